from django.contrib import admin

from .admin_scoping import WorkspaceScopedAdmin
from .models import ApiToken, AuditEntry, Member, Team, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    workspace_field = "pk"

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    list_display = ("name", "slug", "brand_group", "time_zone", "created_at")
    search_fields = ("name", "slug")


@admin.register(Member)
class MemberAdmin(WorkspaceScopedAdmin):
    list_display = ("__str__", "workspace", "role", "availability", "capacity")
    list_filter = ("workspace", "role", "availability")
    list_select_related = ("workspace", "user")
    search_fields = ("display_name", "user__email")


@admin.register(Team)
class TeamAdmin(WorkspaceScopedAdmin):
    list_display = ("name", "workspace", "department", "lead")
    list_filter = ("workspace", "department")


@admin.register(ApiToken)
class ApiTokenAdmin(WorkspaceScopedAdmin):
    list_display = ("prefix", "member", "workspace", "name", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "token_hash", "member", "workspace")
    list_filter = ("workspace",)

    def has_add_permission(self, request):
        # Tokens are issued by `warmline createmember --token` (or the service), which
        # shows the secret once; a form here could only store a row without one.
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(WorkspaceScopedAdmin):
    list_display = ("created_at", "workspace", "actor_label", "action", "object_type", "object_id")
    list_filter = ("workspace", "action")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
