"""Conversations (cases) and their typed timeline."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.customers.models import Channel, Customer
from warmline.tenancy.models import Member, Team, WorkspaceScoped


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    SNOOZED = "snoozed", _("Snoozed")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


ACTIVE_STATUSES = (Status.OPEN, Status.PENDING, Status.SNOOZED)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class SlaPolicy(WorkspaceScoped):
    """Response and resolution targets for the conversations it matches.

    Blank criteria match anything; the most specific matching policy wins, then
    the lowest ``position``. Times are in business hours unless ``calendar_time``.
    """

    name = models.CharField(_("name"), max_length=120)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, blank=True)
    tier = models.CharField(_("customer tier"), max_length=12, blank=True)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices, blank=True)
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    calendar_time = models.BooleanField(_("count calendar time"), default=False)
    warn_at_percent = models.PositiveSmallIntegerField(default=80)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Conversation(WorkspaceScoped):
    """One case: a customer's need, across whatever channels it travels."""

    number = models.PositiveIntegerField(_("number"))
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="conversations")
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    owner = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    channel = models.CharField(_("channel of origin"), max_length=12, choices=Channel.choices)
    opened_at = models.DateTimeField(_("opened"))
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField()
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    # Set while the customer waits for us (cleared by a reply): the inbox sorts on it.
    waiting_since = models.DateTimeField(null=True, blank=True)
    last_channel = models.CharField(max_length=12, choices=Channel.choices, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    handoff_count = models.PositiveIntegerField(default=0)
    customer_message_count = models.PositiveIntegerField(default=0)
    message_count = models.PositiveIntegerField(default=0)
    tags = models.JSONField(default=list, blank=True)
    # How the customer felt: first, lowest and latest customer-message sentiment.
    sentiment_first = models.FloatField(null=True, blank=True)
    sentiment_lowest = models.FloatField(null=True, blank=True)
    sentiment_last = models.FloatField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # SLA clocks: due times move forward while the case is pending or snoozed.
    sla_policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    # {"first_response": "warning"|"breached", ...}: what has already been announced.
    sla_state = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "number"], name="conversation_unique_number"
            ),
        ]
        indexes = [
            models.Index(
                fields=["workspace", "status", "last_activity_at"], name="conv_ws_status_act"
            ),
            models.Index(fields=["workspace", "owner", "status"], name="conv_ws_owner_status"),
            models.Index(fields=["customer", "last_activity_at"], name="conv_customer_act"),
            # The KPI backlog (count, mean and oldest age of open work) from the index alone.
            models.Index(fields=["workspace", "status", "opened_at"], name="conv_ws_status_opened"),
            # Active customers per period (KPI retention and churn), from the index alone.
            models.Index(
                fields=["workspace", "opened_at", "customer"], name="conv_ws_opened_customer"
            ),
            # Inbox sorts walk these per status (see conversations/inbox.py) instead of
            # sorting every match; the customer one leads with the workspace so the
            # 360° panel's lookups pick it even without planner statistics.
            models.Index(
                fields=["workspace", "status", "priority", "last_activity_at"],
                name="conv_ws_status_prio_act",
            ),
            models.Index(
                fields=["workspace", "status", "waiting_since"], name="conv_ws_status_wait"
            ),
            models.Index(
                fields=["workspace", "customer", "last_activity_at"], name="conv_ws_customer_act"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def sentiment_change(self) -> float | None:
        """How the customer's mood moved from their first to their last message."""
        if self.sentiment_first is None or self.sentiment_last is None:
            return None
        return round(self.sentiment_last - self.sentiment_first, 4)


class EntryKind(models.TextChoices):
    CUSTOMER_MESSAGE = "customer_message", _("Customer message")
    AGENT_REPLY = "agent_reply", _("Agent reply")
    ASSISTANT_REPLY = "assistant_reply", _("Assistant reply")
    INTERNAL_NOTE = "internal_note", _("Internal note")
    ASSIGNMENT = "assignment", _("Assignment")
    STATUS_CHANGE = "status_change", _("Status change")
    PRIORITY_CHANGE = "priority_change", _("Priority change")
    MERGE = "merge", _("Merge")
    ACTION = "action", _("Action taken")
    SURVEY_ANSWER = "survey_answer", _("Survey answer")
    ESCALATION = "escalation", _("Escalation")
    SYSTEM = "system", _("System")


MESSAGE_KINDS = (EntryKind.CUSTOMER_MESSAGE, EntryKind.AGENT_REPLY, EntryKind.ASSISTANT_REPLY)


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


class TimelineEntry(WorkspaceScoped):
    """One typed, ordered entry of a conversation's timeline."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    channel = models.CharField(max_length=12, choices=Channel.choices, blank=True)
    author_member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True, help_text="Sanitised HTML, safe to render.")
    # The sender's own id for the message (email Message-ID, provider message id…).
    external_id = models.CharField(max_length=300, null=True, blank=True)
    delivery_status = models.CharField(max_length=10, choices=DeliveryStatus.choices, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    is_auto_reply = models.BooleanField(default=False)
    language = models.CharField(max_length=10, blank=True)
    sentiment = models.FloatField(null=True, blank=True)
    signals = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "channel", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="entry_unique_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "occurred_at", "id"], name="entry_conv_time"),
        ]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.kind} in {self.conversation_id}"


class ThreadKey(WorkspaceScoped):
    """A key that ties later messages to a conversation: an email Message-ID, a chat session…"""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=400)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="threadkey_unique"),
        ]
