"""Authority, the actions agents take, their approvals, and the connectors that execute them."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from warmline.conversations.models import Conversation
from warmline.customers.models import Customer, Order
from warmline.tenancy.models import Member, Role, WorkspaceScoped

MONEY = {"max_digits": 14, "decimal_places": 2}


class AuthorityProfile(WorkspaceScoped):
    """What a role (or one member, overriding their role) may do without approval.

    ``limits`` maps each allowed action code to its maximum amount per action (a decimal
    string, or null for no per-action maximum); an action absent from it needs approval.
    """

    role = models.CharField(_("role"), max_length=10, choices=Role.choices, blank=True)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.CASCADE, related_name="authority"
    )
    limits = models.JSONField(_("allowed actions and maximum amounts"), default=dict, blank=True)
    daily_cap = models.DecimalField(
        _("daily total cap"), null=True, blank=True, help_text=_("Empty: no daily cap."), **MONEY
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(member__isnull=True) & ~Q(role=""))
                | (Q(member__isnull=False) & Q(role="")),
                name="authority_role_xor_member",
            ),
            models.UniqueConstraint(
                fields=["workspace", "role"],
                condition=Q(member__isnull=True),
                name="authority_unique_role",
            ),
            models.UniqueConstraint(
                fields=["workspace", "member"],
                condition=Q(member__isnull=False),
                name="authority_unique_member",
            ),
        ]

    def __str__(self) -> str:
        return f"authority of {self.member or self.role}"


class DailyUsage(WorkspaceScoped):
    """How much a member gave away on one workspace-local day.

    The row is the lock: every action inside authority takes it ``SELECT … FOR UPDATE``
    before checking the cap, so two parallel refunds cannot both fit under it.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    total = models.DecimalField(default=Decimal("0"), **MONEY)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "day"], name="daily_usage_unique"),
        ]


class ActionStatus(models.TextChoices):
    EXECUTED = "executed", _("Executed")
    QUEUED = "queued", _("Sent to the connector")
    PENDING_APPROVAL = "pending_approval", _("Awaiting approval")
    DENIED = "denied", _("Denied")
    EXPIRED = "expired", _("Approval expired")
    REFUSED = "refused", _("Refused by the connector")
    FAILED = "failed", _("Failed")


class EmpoweredAction(WorkspaceScoped):
    """One action an agent took (or asked for) on a conversation; the ledger of money given."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    code = models.CharField(_("action"), max_length=40)
    params = models.JSONField(default=dict)
    amount = models.DecimalField(null=True, blank=True, **MONEY)
    currency = models.CharField(max_length=3, blank=True)
    # Unique per workspace: the same key returns the first request's result.
    idempotency_key = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=ActionStatus.choices)
    within_authority = models.BooleanField(default=False)
    # Which workspace-local day's usage it counted against (null: it did not count).
    counted_day = models.DateField(null=True, blank=True)
    connector = models.CharField(max_length=20, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    rule = models.CharField(max_length=60, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    executed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"], name="action_unique_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "conversation"], name="action_ws_conversation"),
            models.Index(fields=["order", "status"], name="action_order_status"),
        ]

    def __str__(self) -> str:
        return f"{self.code} #{self.pk} ({self.status})"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    DENIED = "denied", _("Denied")
    EXPIRED = "expired", _("Expired")


class ApprovalRequest(WorkspaceScoped):
    """An action above its requester's authority, waiting for a lead's one-click decision."""

    action = models.OneToOneField(
        EmpoweredAction, on_delete=models.CASCADE, related_name="approval"
    )
    requested_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=300)
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status", "expires_at"], name="approval_ws_status"),
        ]

    def __str__(self) -> str:
        return f"approval {self.pk} of {self.action_id} ({self.status})"


class ConnectorKind(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook (the business's own system)")


class ConnectorConfig(WorkspaceScoped):
    """A workspace's webhook to its own system; actions it does not claim use the store."""

    kind = models.CharField(max_length=10, choices=ConnectorKind.choices, default="webhook")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    # HMAC key for the signature; kept readable because signing needs it.
    secret = models.CharField(max_length=200)
    actions = models.JSONField(default=list, help_text=_("Action codes it executes."))
    max_attempts = models.PositiveSmallIntegerField(default=5)
    backoff_seconds = models.FloatField(default=2.0)
    timeout_seconds = models.FloatField(default=10.0)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="connector_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class StoreProduct(WorkspaceScoped):
    """A product of the built-in store and its variants, as the retail reference shapes them:
    ``variants`` maps item id -> {item_id, options, available, price}. The store connector
    reads it to allow item changes only to an available variant of the same product, at
    the catalogue's price."""

    product_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    variants = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "product_id"], name="store_product_unique_id"
            ),
        ]

    def __str__(self) -> str:
        return self.name
