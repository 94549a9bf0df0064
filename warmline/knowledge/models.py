"""Saved replies (macros): text an agent inserts and edits, with customer variables."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.tenancy.models import Member, WorkspaceScoped


class SavedReply(WorkspaceScoped):
    """A reusable reply; ``{{first_name}}``-style variables are filled per customer."""

    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("body"))
    # Empty means "any language"; otherwise the macro is offered first to customers in it.
    language = models.CharField(_("language"), max_length=10, blank=True)
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    use_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "title"], name="savedreply_unique_title"),
        ]
        ordering = ["title"]
        verbose_name = _("saved reply")
        verbose_name_plural = _("saved replies")

    def __str__(self) -> str:
        return self.title
