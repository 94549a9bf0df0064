from django.urls import path

from . import views

app_name = "actions"

urlpatterns = [
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/<str:verb>/", views.decide, name="decide"),
]
