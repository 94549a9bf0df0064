"""Channel configuration and the records adapters keep: the outbox, mailboxes, quarantine.

Adapters translate; they never write domain rows (conversations, timeline
entries) themselves. What lives here is channel plumbing: where mail is
accepted, how it goes out, what is waiting to be sent, and mail that could not
be taken in.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.conversations.models import Conversation, TimelineEntry
from warmline.customers.models import Channel, Customer
from warmline.tenancy.models import Member, TimeStamped, Workspace, WorkspaceScoped


class Security(models.TextChoices):
    TLS = "tls", _("TLS (implicit)")
    STARTTLS = "starttls", _("STARTTLS")
    PLAIN = "plain", _("None (loopback only)")


class EmailAddress(WorkspaceScoped):
    """An address a workspace receives mail on, and how replies from it go out.

    ``address`` is the base address (``help@brand.example``); reply tokens
    (``help+r-TOKEN@…``) route to the same row. Outbound settings are optional:
    without an SMTP host, mail leaves through the project's ``EMAIL_BACKEND``.
    """

    address = models.CharField(_("address"), max_length=254, unique=True)
    from_name = models.CharField(_("from name"), max_length=120, blank=True)
    signature = models.TextField(_("signature"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(
        _("default for outbound"), default=False, help_text=_("Replies leave from this address.")
    )
    smtp_host = models.CharField(_("SMTP host"), max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(_("SMTP port"), null=True, blank=True)
    smtp_username = models.CharField(_("SMTP user"), max_length=255, blank=True)
    smtp_password = models.CharField(_("SMTP password"), max_length=255, blank=True)
    smtp_security = models.CharField(
        _("SMTP security"), max_length=10, choices=Security.choices, default=Security.STARTTLS
    )

    class Meta:
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")

    def __str__(self) -> str:
        return self.address


class ImapMailbox(WorkspaceScoped):
    """A mailbox polled for new mail (fetch unseen → ingest → mark seen / move)."""

    name = models.CharField(_("name"), max_length=120)
    host = models.CharField(_("IMAP host"), max_length=255)
    port = models.PositiveIntegerField(_("IMAP port"), default=993)
    security = models.CharField(
        _("security"), max_length=10, choices=Security.choices, default=Security.TLS
    )
    username = models.CharField(_("user"), max_length=255)
    password = models.CharField(_("password"), max_length=255)
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    move_to = models.CharField(
        _("move processed mail to"), max_length=255, blank=True, help_text=_("Empty: mark seen.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("IMAP mailbox")

    def __str__(self) -> str:
        return f"{self.username}@{self.host}/{self.folder}"


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


class OutboundMessage(WorkspaceScoped):
    """The outbox: every send is recorded here before it goes out, and retried from here."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    entry = models.OneToOneField(
        TimelineEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    actor = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    # Adapter-specific details fixed before the first attempt (headers, template ids…),
    # so a retry sends exactly what the first attempt would have.
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=6)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the row while it is sending; a crashed worker's hold runs out.
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # The provider's or the SMTP Message-ID, for status callbacks and bounces.
    external_id = models.CharField(max_length=300, null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="outbound_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbound_due"),
            models.Index(fields=["workspace", "channel", "external_id"], name="outbound_ext"),
        ]
        verbose_name = _("outbound message")

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient} ({self.status})"


class QuarantineStatus(models.TextChoices):
    HELD = "held", _("Held")
    REPROCESSED = "reprocessed", _("Re-processed")
    DISCARDED = "discarded", _("Discarded")


class QuarantinedEmail(TimeStamped):
    """Mail that could not be parsed or routed, kept as the original .eml with the reason.

    ``workspace`` is empty when no workspace could be told (unknown recipient
    found only after acceptance, or nothing parseable); such rows are visible to
    superusers only.
    """

    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=QuarantineStatus.choices, default=QuarantineStatus.HELD
    )
    reason = models.CharField(_("reason"), max_length=60)
    detail = models.TextField(_("detail"), blank=True)
    source = models.CharField(max_length=10, default="smtp")  # smtp | imap | api
    eml = models.FileField(upload_to="quarantine/%Y/%m/", max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField(default=0)
    envelope_from = models.CharField(max_length=320, blank=True)
    envelope_to = models.JSONField(default=list, blank=True)
    from_header = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    reprocessed_at = models.DateTimeField(null=True, blank=True)
    entry = models.ForeignKey(
        TimelineEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # The same bytes delivered twice (an IMAP batch retried) are held once.
            models.UniqueConstraint(fields=["sha256", "source"], name="quarantine_unique_bytes"),
        ]
        ordering = ["-created_at"]
        verbose_name = _("quarantined email")
        verbose_name_plural = _("quarantined email")

    def __str__(self) -> str:
        return f"{self.reason}: {self.subject or self.sha256[:12]}"
