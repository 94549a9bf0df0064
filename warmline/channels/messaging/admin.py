from django.contrib import admin

from warmline.tenancy.admin_scoping import WorkspaceScopedAdmin

from .models import MessagingAccount


@admin.register(MessagingAccount)
class MessagingAccountAdmin(WorkspaceScopedAdmin):
    list_display = ("name", "workspace", "provider", "channel", "key", "is_active")
    list_filter = ("workspace", "provider", "is_active")
    readonly_fields = ("key",)
