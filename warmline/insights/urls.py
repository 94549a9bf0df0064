from django.urls import path

from . import views

app_name = "insights"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("operator/", views.operator, name="operator"),
    path("export/<str:table>.csv", views.export, name="export"),
]
