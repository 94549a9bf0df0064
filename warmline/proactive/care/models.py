"""Stored health scores with history, churn models, playbooks, outreach and follow-ups.

The unique (playbook, customer, trigger_key) on ``Outreach`` is what makes a
playbook contact a customer at most once per trigger, whatever the number of
workers, restarts or overlapping schedules: the claim is an INSERT the database
refuses the second time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.conversations.models import Conversation
from warmline.customers.models import Channel, Customer
from warmline.tenancy.models import Member, Workspace, WorkspaceScoped


class CareSettings(WorkspaceScoped):
    """A workspace's tuning of health scores and its rules for the customer's attention."""

    # HealthConfig overrides (see docs/health.md); validated by HealthConfig.from_dict.
    health = models.JSONField(_("health score tuning"), default=dict, blank=True)
    weekly_cap = models.PositiveSmallIntegerField(
        _("at most this many proactive contacts per customer per 7 days"),
        default=2,
        validators=[MaxValueValidator(50)],
    )
    quiet_start = models.TimeField(_("quiet hours start (customer's time)"), default=dt.time(21))
    quiet_end = models.TimeField(_("quiet hours end (customer's time)"), default=dt.time(8))

    class Meta:
        verbose_name_plural = "care settings"
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="care_settings_one_per_ws"),
        ]


class Trend(models.TextChoices):
    UP = "up", _("Rising")
    DOWN = "down", _("Falling")
    FLAT = "flat", _("Steady")


class CustomerHealth(WorkspaceScoped):
    """A customer's current health score (0-100, higher is healthier) and churn risk."""

    # (workspace, score) leads with the workspace: a separate workspace index would only
    # cost every nightly upsert another b-tree write.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="care_health")
    score = models.FloatField()
    previous_score = models.FloatField(null=True, blank=True)
    trend = models.CharField(max_length=4, choices=Trend.choices, default=Trend.FLAT)
    # The facts the score was computed from (a list in scoring.FACT_FIELDS order), so the
    # panel can explain every point.
    facts = models.JSONField(default=list)
    # Cadence, kept as columns so the inactivity trigger reads them without decoding JSON.
    last_activity_on = models.DateField(null=True, blank=True)
    usual_gap_days = models.FloatField(null=True, blank=True)
    churn_probability = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField()
    # The day of the customer's latest HealthSnapshot, so a recompute knows whether today
    # already has one without scanning the history.
    snapshot_on = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "score"], name="care_health_ws_score")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.score:.0f}"


class HealthSnapshot(WorkspaceScoped):
    """One point of a customer's score history (one per change and at least one per day)."""

    # Both foreign keys are covered by the composite indexes below.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    score = models.FloatField()
    churn_probability = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["customer", "computed_at"], name="care_snapshot_cust_time"),
            models.Index(fields=["workspace", "computed_at"], name="care_snapshot_ws_time"),
        ]


class ChurnModelRecord(WorkspaceScoped):
    """A churn model trained on the workspace's own history (plain JSON, never pickle)."""

    model = models.JSONField()
    customers = models.PositiveIntegerField()
    churn_events = models.PositiveIntegerField()
    cv_auc = models.FloatField(null=True, blank=True)
    trained_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "trained_at"], name="care_churn_ws_time")]


class TriggerKind(models.TextChoices):
    EVENT = "event", _("Business event (order delivered, renewal due, payment failed…)")
    AFTER_RESOLVED = "after_resolved", _("N days after a conversation is resolved")
    AFTER_PURCHASE = "after_purchase", _("N days after a purchase")
    INACTIVITY = "inactivity", _("Inactive beyond the customer's usual cadence")
    HEALTH_BELOW = "health_below", _("Health below a threshold")
    HEALTH_DROP = "health_drop", _("Sharp drop in health")
    DETRACTOR = "detractor", _("Detractor survey answer")
    SPECIAL_DATE = "special_date", _("Special date (birthday, anniversary…)")
    TREND_FIXED = "trend_fixed", _("A trend that affected the customer is fixed")


class IncentiveCode(models.TextChoices):
    NONE = "", _("No incentive")
    DISCOUNT = "discount_code", _("Discount code")
    CREDIT = "account_credit", _("Account credit")


class Playbook(WorkspaceScoped):
    """Trigger + conditions (segment) + actions; leads create and edit them in the UI."""

    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("description"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # --- trigger
    trigger = models.CharField(_("trigger"), max_length=20, choices=TriggerKind.choices)
    event_type = models.CharField(
        _("event type"), max_length=60, blank=True, help_text=_("For business events.")
    )
    days = models.PositiveSmallIntegerField(
        _("days"),
        default=0,
        validators=[MaxValueValidator(3650)],
        help_text=_("N days after resolution or purchase; days before a special date."),
    )
    threshold = models.FloatField(
        _("threshold"),
        null=True,
        blank=True,
        help_text=_(
            "Health below this score; a drop of this many points; inactivity beyond this "
            "many usual gaps (default 2)."
        ),
    )
    date_label = models.CharField(
        _("special date label"), max_length=60, blank=True, help_text=_("Empty: any date.")
    )
    # --- conditions (empty = anyone)
    tiers = models.JSONField(_("tiers"), default=list, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    ltv_min = models.DecimalField(
        _("lifetime value at least"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    ltv_max = models.DecimalField(
        _("lifetime value at most"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    tags = models.JSONField(_("tags (any of)"), default=list, blank=True)
    owners = models.ManyToManyField(Member, blank=True, related_name="+", verbose_name=_("owners"))
    attributes = models.JSONField(_("custom attributes equal to"), default=dict, blank=True)
    # --- actions
    message_subject = models.CharField(_("message subject"), max_length=200, blank=True)
    message_body = models.TextField(
        _("message"),
        blank=True,
        help_text=_("Placeholders: {first_name}, {name}, {owner}, {company}, {reason}."),
    )
    task_text = models.CharField(_("follow-up task for the owner"), max_length=300, blank=True)
    task_due_days = models.PositiveSmallIntegerField(
        _("task due in (days)"), default=1, validators=[MaxValueValidator(365)]
    )
    incentive = models.CharField(
        _("incentive"), max_length=20, choices=IncentiveCode.choices, blank=True, default=""
    )
    incentive_amount = models.DecimalField(
        _("incentive amount"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    note_text = models.CharField(_("internal note"), max_length=500, blank=True)
    allow_open_conversation = models.BooleanField(
        _("reach out even while the customer has an open conversation"), default=False
    )
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "is_active"], name="care_playbook_ws_active")]

    def __str__(self) -> str:
        return self.name

    @property
    def messages_customer(self) -> bool:
        return bool(self.message_body.strip())


class OutreachStatus(models.TextChoices):
    CONTACTED = "contacted", _("Contacted")
    INTERNAL = "internal", _("Owner only (no message)")
    SKIPPED = "skipped", _("Not contacted")


class Outreach(WorkspaceScoped):
    """One playbook run for one customer and one trigger: the exactly-once claim."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="outreach")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    trigger_key = models.CharField(max_length=200)
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=OutreachStatus.choices)
    skip_reason = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=12, choices=Channel.choices, blank=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Counted against the weekly cap only when a message actually went to the customer.
    messaged = models.BooleanField(default=False)
    contacted_at = models.DateTimeField()
    replied_at = models.DateTimeField(null=True, blank=True)
    survey_answered_at = models.DateTimeField(null=True, blank=True)
    purchased_at = models.DateTimeField(null=True, blank=True)
    churned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["playbook", "customer", "trigger_key"], name="outreach_once_per_trigger"
            ),
        ]
        indexes = [
            models.Index(
                fields=["workspace", "customer", "contacted_at"], name="care_outreach_cust_time"
            ),
        ]


class FollowUp(WorkspaceScoped):
    """A task for the customer's owner, with a due date ("My follow-ups")."""

    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="care_follow_ups"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    playbook = models.ForeignKey(
        Playbook, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outreach = models.ForeignKey(
        Outreach, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    text = models.CharField(max_length=300)
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["workspace", "member", "done_at", "due_at"], name="care_fu_member"
            ),
        ]

    def __str__(self) -> str:
        return self.text


OPT_OUT_ALL = "all"


class OptOut(WorkspaceScoped):
    """The customer asked not to be contacted proactively on a channel (or on any: 'all')."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=12)
    source = models.CharField(max_length=60, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "channel"], name="optout_unique"),
        ]


class PendingTrigger(WorkspaceScoped):
    """A trigger announced by another capability (a fixed trend) waiting for evaluation."""

    kind = models.CharField(max_length=20, choices=TriggerKind.choices)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    reason = models.CharField(max_length=300)
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind", "customer", "key"], name="pending_trigger_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "kind", "occurred_at"], name="care_pending_ws_time"),
        ]
