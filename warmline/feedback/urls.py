from django.urls import path

from . import views

app_name = "feedback"

urlpatterns = [
    path("s/<str:token>/", views.survey, name="survey"),
    path("s/<str:token>/answer/", views.answer, name="answer"),
]
