"""Back-office scoping: staff see only the workspaces they administer.

Superusers (the operator running the installation) see everything. Another
workspace's row is simply absent: the admin answers as for a missing object.
"""

from __future__ import annotations

from django.contrib import admin

from .models import Member


def workspace_ids_for(user) -> list[int] | None:
    """Workspaces whose back office this user may open; None means all (superuser).

    Only an admin membership counts: someone who administers one brand and is
    an agent in another must not read the second brand's records in the admin.
    """
    if user.is_superuser:
        return None
    return list(
        Member.objects.filter(user=user, is_active=True, role="admin").values_list(
            "workspace_id", flat=True
        )
    )


class WorkspaceScopedAdmin(admin.ModelAdmin):
    workspace_field = "workspace"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        ids = workspace_ids_for(request.user)
        return qs if ids is None else qs.filter(**{f"{self.workspace_field}__in": ids})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        ids = workspace_ids_for(request.user)
        related = db_field.related_model
        if ids is not None:
            if related._meta.label_lower == "tenancy.workspace":
                kwargs["queryset"] = related.objects.filter(pk__in=ids)
            elif any(f.name == "workspace" for f in related._meta.fields):
                kwargs["queryset"] = related.objects.filter(workspace__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _workspace_admin(self, request) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        if user.is_superuser:
            return True
        return Member.objects.filter(user=user, is_active=True, role="admin").exists()

    def has_module_permission(self, request):
        return self._workspace_admin(request) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._workspace_admin(request) or super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._workspace_admin(request) or super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return self._workspace_admin(request) or super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self._workspace_admin(request) or super().has_delete_permission(request, obj)
