"""Topics, trends, routing rules and proactive outreach about a trend.

The detection maths lives in ``topics.py`` / ``trends.py`` (pure, database-free);
these rows are what a care team sees and acts on: named topics, the trends the
detector raised with their lifecycle, the department a problem is routed to,
the recorded fix and the message sent to the affected customers.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.customers.models import Customer
from warmline.tenancy.models import Department, Member, Team, WorkspaceScoped


class TrendSettings(WorkspaceScoped):
    """Per-workspace thresholds; a workspace without a row uses the product defaults."""

    enabled = models.BooleanField(_("detect trends"), default=True)
    new_topic_min_customers = models.PositiveSmallIntegerField(
        _("new issue: customers needed"), default=3
    )
    new_topic_window_hours = models.PositiveSmallIntegerField(
        _("new issue: within hours"), default=24
    )
    rise_ratio = models.FloatField(_("volume rise: times the baseline"), default=3.0)
    rise_min_count = models.PositiveSmallIntegerField(
        _("volume rise: minimum customers"), default=3
    )
    rise_alpha = models.FloatField(_("volume rise: significance (p-value)"), default=1e-5)
    confirm_min_customers = models.PositiveSmallIntegerField(
        _("customers that confirm a trend"), default=6
    )
    assign_threshold = models.FloatField(_("topic similarity threshold"), null=True, blank=True)
    proactive_cap_days = models.PositiveSmallIntegerField(
        _("proactive messages: at most one per customer every N days"), default=7
    )
    warmup_days = models.PositiveSmallIntegerField(
        _("history needed before flagging (days)"), default=7
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="trend_settings_one_per_workspace")
        ]


class Topic(WorkspaceScoped):
    """What customers write about. ``label`` comes from top terms; ``name`` is a person's."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        MERGED = "merged", _("Merged")

    label = models.CharField(_("label"), max_length=200, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # float32 sum of member vectors (the centroid is its direction); encoder dims wide.
    vector_sum = models.BinaryField(default=b"")
    message_count = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    representatives = models.JSONField(default=list, blank=True)  # timeline entry ids

    class Meta:
        indexes = [models.Index(fields=["workspace", "status"], name="topic_ws_status")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.label or f"topic {self.pk}"


class TopicMessage(WorkspaceScoped):
    """One inbound customer message filed under a topic (assigned off the ingest path)."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="messages")
    entry = models.OneToOneField(
        "conversations.TimelineEntry", on_delete=models.CASCADE, related_name="+"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=12, blank=True)
    occurred_at = models.DateTimeField()
    vector = models.BinaryField(default=b"")
    similarity = models.FloatField(default=0.0)
    # The message's local density on its own past (see proactive/live.py), kept so a
    # restarted worker reads it instead of measuring it again; valid only for the
    # (density_k, watched span) named in density_basis.
    density = models.FloatField(null=True, blank=True)
    density_basis = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "topic", "occurred_at"], name="topicmsg_topic_time"),
            models.Index(fields=["workspace", "occurred_at"], name="topicmsg_ws_time"),
        ]


class TrendState(models.TextChoices):
    EMERGING = "emerging", _("Emerging")
    CONFIRMED = "confirmed", _("Confirmed")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    FIXED = "fixed", _("Fixed")
    DISMISSED = "dismissed", _("Dismissed")


class Trend(WorkspaceScoped):
    """A topic that rose above its own baseline or a new issue shared by several customers."""

    class Reason(models.TextChoices):
        NEW_TOPIC = "new_topic", _("New issue")
        VOLUME_RISE = "volume_rise", _("Volume rise")

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="trends")
    state = models.CharField(
        _("state"), max_length=12, choices=TrendState.choices, default=TrendState.EMERGING
    )
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    detail = models.JSONField(default=dict, blank=True)
    flagged_at = models.DateTimeField(_("flagged"))
    confirmed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    dismissed_reason = models.CharField(max_length=300, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    customer_count = models.PositiveIntegerField(default=0)
    message_count = models.PositiveIntegerField(default=0)
    department = models.CharField(
        _("owning department"), max_length=12, choices=Department.choices, blank=True
    )
    owning_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    routing_rule = models.ForeignKey(
        "RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # float32 direction of the flagged messages: later messages this close join the trend.
    vector = models.BinaryField(default=b"")
    fix_summary = models.TextField(_("what was fixed"), blank=True)
    fixed_at = models.DateTimeField(_("fixed at"), null=True, blank=True)
    fixed_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["workspace", "state"], name="trend_ws_state")]

    def __str__(self) -> str:
        return f"trend {self.pk} ({self.state})"


class TrendConversation(WorkspaceScoped):
    """An affected conversation: marked so agents see the trend beside the case."""

    trend = models.ForeignKey(Trend, on_delete=models.CASCADE, related_name="affected")
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["trend", "conversation"], name="trend_conversation_once"
            )
        ]


class RoutingRule(WorkspaceScoped):
    """Which department owns the cause: first matching rule (by position) wins."""

    name = models.CharField(_("name"), max_length=120)
    department = models.CharField(_("department"), max_length=12, choices=Department.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    intents = models.JSONField(_("intents (topic names)"), default=list, blank=True)
    channels = models.JSONField(_("channels"), default=list, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]


class Outreach(WorkspaceScoped):
    """A proactive message about a trend to every affected customer, sent in the background."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")

    trend = models.ForeignKey(Trend, on_delete=models.CASCADE, related_name="outreach")
    template = models.TextField(_("message"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)


class OutreachRecipient(WorkspaceScoped):
    """One customer of an outreach: sent, or skipped with the reason (opt-out, cap...)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        OPTED_OUT = "opted_out", _("Opted out")
        CAPPED = "capped", _("Frequency cap")
        NO_CHANNEL = "no_channel", _("No reachable channel")
        FAILED = "failed", _("Failed")

    outreach = models.ForeignKey(Outreach, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=12, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    detail = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["outreach", "customer"], name="outreach_recipient_once")
        ]
        indexes = [
            models.Index(fields=["workspace", "customer", "sent_at"], name="outreach_cust_sent")
        ]
