from django.contrib import admin

from warmline.tenancy.admin_scoping import WorkspaceScopedAdmin

from .models import Call


@admin.register(Call)
class CallAdmin(WorkspaceScopedAdmin):
    list_display = ("external_id", "workspace", "direction", "from_number", "to_number",
                    "agent", "started_at", "handle_seconds")  # fmt: skip
    list_filter = ("workspace", "direction")
    search_fields = ("external_id", "from_number", "to_number")
    raw_id_fields = ("agent", "customer", "conversation", "entry")
