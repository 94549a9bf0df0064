from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("workspace/<slug:slug>/", views.switch_workspace, name="switch_workspace"),
    path("c/<int:number>/", views.conversation, name="conversation"),
]
