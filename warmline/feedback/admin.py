from django.contrib import admin

from .models import Answer, RecoveryTask, Survey, SurveySettings


@admin.register(SurveySettings)
class SurveySettingsAdmin(admin.ModelAdmin):
    list_display = ("workspace", "nps_enabled", "csat_enabled", "ces_enabled", "channel")


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("id", "workspace", "conversation", "status", "sent_at", "expires_at")
    list_filter = ("status", "trigger", "channel")
    exclude = ("token",)


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ("id", "workspace", "kind", "score", "answered_at")
    list_filter = ("kind",)


@admin.register(RecoveryTask)
class RecoveryTaskAdmin(admin.ModelAdmin):
    list_display = ("id", "workspace", "member", "reason", "due_at", "done_at")
