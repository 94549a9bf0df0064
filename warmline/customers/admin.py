from django.contrib import admin

from warmline.tenancy.admin_scoping import WorkspaceScopedAdmin

from .models import Customer, CustomerEvent, Identity, MergeSuggestion, Order


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ("kind", "value", "verified")


@admin.register(Customer)
class CustomerAdmin(WorkspaceScopedAdmin):
    list_display = (
        "__str__",
        "workspace",
        "tier",
        "lifecycle",
        "owner",
        "lifetime_value",
        "customer_since",
    )
    list_filter = ("workspace", "tier", "lifecycle")
    list_select_related = ("workspace", "owner")
    search_fields = ("name",)
    raw_id_fields = ("owner",)
    inlines = [IdentityInline]


@admin.register(Order)
class OrderAdmin(WorkspaceScopedAdmin):
    list_display = (
        "external_id",
        "workspace",
        "customer",
        "status",
        "total",
        "currency",
        "placed_at",
    )
    list_filter = ("workspace", "status")
    search_fields = ("external_id",)
    raw_id_fields = ("customer",)


@admin.register(CustomerEvent)
class CustomerEventAdmin(WorkspaceScopedAdmin):
    list_display = ("type", "workspace", "customer", "value", "occurred_at")
    list_filter = ("workspace", "type")
    raw_id_fields = ("customer",)


@admin.register(MergeSuggestion)
class MergeSuggestionAdmin(WorkspaceScopedAdmin):
    list_display = ("customer", "other", "workspace", "status", "created_at")
    list_filter = ("workspace", "status")
    raw_id_fields = ("customer", "other")
