"""Calls recorded by telephony systems, with the handle-time figures KPIs need.

The call's place in the customer's timeline is a timeline entry written by
``ingest`` (text = the transcript); this row keeps the call's own facts —
times, hold, after-call work, recording, turns — keyed by the telephony
system's call id so a re-sent record updates nothing and duplicates nothing.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.conversations.models import Conversation, TimelineEntry
from warmline.customers.models import Customer
from warmline.tenancy.models import Member, WorkspaceScoped


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class Call(WorkspaceScoped):
    external_id = models.CharField(_("call id"), max_length=200)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    from_number = models.CharField(_("from"), max_length=32)
    to_number = models.CharField(_("to"), max_length=32)
    agent = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    entry = models.OneToOneField(
        TimelineEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(_("started"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"))
    # Seconds. talk = answered→ended minus hold; handle = talk + hold + after-call work
    # (the contact-centre definition of average handle time).
    wait_seconds = models.PositiveIntegerField(default=0)
    talk_seconds = models.PositiveIntegerField(default=0)
    hold_seconds = models.PositiveIntegerField(default=0)
    after_call_work_seconds = models.PositiveIntegerField(default=0)
    handle_seconds = models.PositiveIntegerField(default=0)
    recording_url = models.URLField(_("recording"), max_length=500, blank=True)
    # [{"speaker": "agent"|"customer"|..., "text": str, "start": seconds, "end": seconds}]
    transcript = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"], name="call_unique_external_id"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "ended_at"], name="call_ws_ended"),
            models.Index(fields=["workspace", "agent", "ended_at"], name="call_ws_agent_ended"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} call {self.external_id}"

    @property
    def answered(self) -> bool:
        return self.answered_at is not None
