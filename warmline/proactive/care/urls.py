from django.urls import path

from . import views

app_name = "care"

urlpatterns = [
    path("", views.playbooks, name="playbooks"),
    path("playbooks/new/", views.playbook_edit, name="playbook_new"),
    path("playbooks/<int:pk>/", views.playbook_edit, name="playbook_edit"),
    path("playbooks/<int:pk>/dry-run/", views.playbook_dry_run, name="playbook_dry_run"),
    path("playbooks/<int:pk>/delete/", views.playbook_delete, name="playbook_delete"),
    path("follow-ups/", views.follow_ups, name="follow_ups"),
    path("follow-ups/<int:pk>/done/", views.follow_up_done, name="follow_up_done"),
    path("follow-ups/recovery/<int:pk>/done/", views.recovery_done, name="recovery_done"),
    path("health/", views.health_report, name="health_report"),
    path("settings/", views.care_settings, name="settings"),
    path("customers/<int:pk>/panel/", views.customer_panel, name="panel"),
    path("customers/<int:pk>/opt-out/", views.opt_out, name="opt_out"),
]
