from django.urls import path

from . import views

app_name = "actions"

urlpatterns = [
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/<str:verb>/", views.decide, name="decide"),
    path("c/<int:number>/", views.conversation_actions, name="conversation"),
    path("c/<int:number>/take/", views.take_action, name="take"),
]
