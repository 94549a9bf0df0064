"""Live-chat visitors: the anonymous browser behind a widget, until it becomes a customer.

Only the visitor's handle lives here. Messages, customers and conversations are
written by ``ingest()``; this row remembers which conversation the browser's
chat continues and whether a socket of it is open right now.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.conversations.models import Conversation
from warmline.tenancy.models import WorkspaceScoped


class ChatVisitor(WorkspaceScoped):
    # Random, unguessable; the browser holds it only inside a signed token.
    key = models.CharField(max_length=40, unique=True)
    email = models.EmailField(_("email"), max_length=320, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Open websockets of this visitor (tabs); replies fall back to email when zero.
    open_sockets = models.IntegerField(default=0)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    origin = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "conversation"], name="chatvisitor_ws_conv")]

    def __str__(self) -> str:
        return f"visitor {self.key[:8]}"
