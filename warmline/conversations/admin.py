from django.contrib import admin

from warmline.tenancy.admin_scoping import WorkspaceScopedAdmin

from .models import Conversation, TimelineEntry


@admin.register(Conversation)
class ConversationAdmin(WorkspaceScopedAdmin):
    list_display = (
        "number",
        "workspace",
        "subject",
        "status",
        "priority",
        "owner",
        "channel",
        "last_activity_at",
    )
    list_filter = ("workspace", "status", "priority", "channel")
    list_select_related = ("workspace", "owner")
    search_fields = ("subject",)
    raw_id_fields = ("customer", "owner", "team", "merged_into")


@admin.register(TimelineEntry)
class TimelineEntryAdmin(WorkspaceScopedAdmin):
    list_display = ("id", "workspace", "conversation", "kind", "channel", "occurred_at")
    list_filter = ("workspace", "kind", "channel")
    raw_id_fields = ("conversation", "author_member", "author_customer")
