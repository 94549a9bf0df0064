from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("twilio/<str:key>/", views.twilio_message, name="twilio_message"),
    path("twilio/<str:key>/status/", views.twilio_status, name="twilio_status"),
    path("webhook/<str:key>/", views.webhook, name="webhook"),
]
