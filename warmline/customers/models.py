"""The customer record: one person across every channel, with an owner."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.tenancy.models import Member, WorkspaceScoped


class Tier(models.TextChoices):
    STANDARD = "standard", _("Standard")
    SILVER = "silver", _("Silver")
    GOLD = "gold", _("Gold")
    PLATINUM = "platinum", _("Platinum")


class Lifecycle(models.TextChoices):
    ACTIVE = "active", _("Active")
    AT_RISK = "at_risk", _("At risk")
    CHURNED = "churned", _("Churned")


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    VOICE = "voice", _("Voice")
    SOCIAL = "social", _("Social")
    API = "api", _("API")


# Membership tests on the hot ingest path: Channel.values builds a new list each call.
CHANNELS = frozenset(Channel.values)


class Customer(WorkspaceScoped):
    name = models.CharField(_("name"), max_length=200, blank=True)
    preferred_language = models.CharField(_("preferred language"), max_length=10, blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=12, choices=Channel.choices, blank=True
    )
    tier = models.CharField(_("tier"), max_length=12, choices=Tier.choices, default=Tier.STANDARD)
    customer_since = models.DateField(_("customer since"), null=True, blank=True)
    # Derived: the sum of the customer's non-cancelled orders, kept current on order upsert.
    lifetime_value = models.DecimalField(
        _("lifetime value"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    preferences = models.JSONField(_("preferences"), default=dict, blank=True)
    special_dates = models.JSONField(_("special dates"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    owner = models.ForeignKey(
        Member,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_customers",
    )
    lifecycle = models.CharField(
        _("lifecycle"), max_length=10, choices=Lifecycle.choices, default=Lifecycle.ACTIVE
    )
    custom_attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "name"], name="customer_ws_name"),
            models.Index(fields=["workspace", "owner"], name="customer_ws_owner"),
        ]

    def __str__(self) -> str:
        return self.name or f"Customer {self.pk}"


class IdentityKind(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    CHAT = "chat", _("Chat visitor")
    SOCIAL = "social", _("Social handle")
    EXTERNAL = "external", _("External id")


class Identity(WorkspaceScoped):
    """One way to recognise a customer; the normalised value is unique per workspace."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=10, choices=IdentityKind.choices)
    value = models.CharField(max_length=320)
    verified = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind", "value"], name="identity_unique_value"
            ),
        ]
        # The 360° panel lists a customer's identities by kind: without this the planner
        # walks the unique index above (it also yields kind order) across the workspace.
        indexes = [
            models.Index(fields=["workspace", "customer", "kind"], name="identity_ws_customer"),
        ]
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class MergeSuggestion(WorkspaceScoped):
    """Two customers that one message's identities tie together; an agent decides."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MERGED = "merged", _("Merged")
        DISMISSED = "dismissed", _("Dismissed")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "customer", "other"], name="merge_suggestion_unique"
            ),
        ]


class CustomerEvent(WorkspaceScoped):
    """A business event: purchase, renewal, login, cancellation, delivery…"""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=60)
    properties = models.JSONField(default=dict, blank=True)
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    occurred_at = models.DateTimeField()
    external_id = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="event_unique_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="event_customer_time"),
            models.Index(fields=["workspace", "type", "occurred_at"], name="event_ws_type_time"),
        ]


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSED = "processed", _("Processed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")
    EXCHANGED = "exchanged", _("Exchanged")


class Order(WorkspaceScoped):
    """A mirror of one of the business's orders."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    external_id = models.CharField(max_length=200)
    status = models.CharField(max_length=40, default=OrderStatus.PENDING)
    items = models.JSONField(default=list, blank=True)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    payment_method = models.CharField(max_length=120, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"], name="order_unique_external"
            ),
        ]
        indexes = [models.Index(fields=["customer", "placed_at"], name="order_customer_time")]

    def __str__(self) -> str:
        return self.external_id
