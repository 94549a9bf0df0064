from django.contrib import admin

from warmline.tenancy.admin_scoping import WorkspaceScopedAdmin

from .models import (
    ApprovalRequest,
    AuthorityProfile,
    ConnectorConfig,
    DailyUsage,
    EmpoweredAction,
)


@admin.register(AuthorityProfile)
class AuthorityProfileAdmin(WorkspaceScopedAdmin):
    list_display = ("__str__", "workspace", "role", "member", "daily_cap", "updated_at")
    list_filter = ("workspace", "role")
    raw_id_fields = ("member",)


@admin.register(EmpoweredAction)
class EmpoweredActionAdmin(WorkspaceScopedAdmin):
    list_display = (
        "code",
        "workspace",
        "status",
        "amount",
        "currency",
        "requested_by",
        "created_at",
    )
    list_filter = ("workspace", "status", "code")
    search_fields = ("idempotency_key",)
    raw_id_fields = ("conversation", "customer", "order", "requested_by")
    # The ledger is the record of money given away: it is read, never edited by hand.
    readonly_fields = [f.name for f in EmpoweredAction._meta.fields]


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(WorkspaceScopedAdmin):
    list_display = ("action", "workspace", "status", "requested_by", "decided_by", "expires_at")
    list_filter = ("workspace", "status")
    raw_id_fields = ("action", "requested_by", "decided_by")


@admin.register(DailyUsage)
class DailyUsageAdmin(WorkspaceScopedAdmin):
    list_display = ("member", "workspace", "day", "total", "count")
    list_filter = ("workspace", "day")
    readonly_fields = ("member", "day", "total", "count")


@admin.register(ConnectorConfig)
class ConnectorConfigAdmin(WorkspaceScopedAdmin):
    list_display = ("name", "workspace", "kind", "url", "is_active")
    list_filter = ("workspace", "kind", "is_active")
