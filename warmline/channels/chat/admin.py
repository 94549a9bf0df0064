from django.contrib import admin

from warmline.tenancy.admin_scoping import WorkspaceScopedAdmin

from .models import ChatVisitor


@admin.register(ChatVisitor)
class ChatVisitorAdmin(WorkspaceScopedAdmin):
    list_display = ("key", "workspace", "email", "conversation", "open_sockets", "last_seen_at")
    list_filter = ("workspace",)
    search_fields = ("email", "key")
    raw_id_fields = ("conversation",)
    readonly_fields = ("key", "open_sockets", "last_seen_at", "origin")
