from django.urls import path

from . import views

app_name = "email"

urlpatterns = [
    path(
        "attachments/<int:entry_id>/<int:index>/",
        views.attachment,
        name="attachment",
    ),
]
