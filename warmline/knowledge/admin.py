from django.contrib import admin

from warmline.tenancy.admin_scoping import WorkspaceScopedAdmin

from .models import SavedReply


@admin.register(SavedReply)
class SavedReplyAdmin(WorkspaceScopedAdmin):
    list_display = ("title", "workspace", "language", "use_count")
    list_filter = ("workspace", "language")
    search_fields = ("title", "body")
