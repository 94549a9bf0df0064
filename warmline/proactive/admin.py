"""Back office for trends: scoped to the workspaces the staff member administers."""

from django.contrib import admin

from warmline.tenancy.admin_scoping import WorkspaceScopedAdmin

from .models import Outreach, RoutingRule, Topic, Trend, TrendSettings


@admin.register(TrendSettings)
class TrendSettingsAdmin(WorkspaceScopedAdmin):
    list_display = ("workspace", "enabled", "new_topic_min_customers", "rise_alpha")


@admin.register(Topic)
class TopicAdmin(WorkspaceScopedAdmin):
    list_display = ("id", "workspace", "label", "name", "status", "message_count", "last_seen_at")
    list_filter = ("status",)
    exclude = ("vector_sum",)


@admin.register(Trend)
class TrendAdmin(WorkspaceScopedAdmin):
    list_display = ("id", "workspace", "topic", "state", "reason", "customer_count", "flagged_at")
    list_filter = ("state", "reason")
    exclude = ("vector",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(WorkspaceScopedAdmin):
    list_display = ("name", "workspace", "department", "position", "is_active")


@admin.register(Outreach)
class OutreachAdmin(WorkspaceScopedAdmin):
    list_display = ("id", "workspace", "trend", "status", "queued_at", "finished_at")
