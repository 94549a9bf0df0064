"""Workspaces (one per brand or client), their members, teams, tokens and audit.

Every domain table elsewhere inherits ``WorkspaceScoped``: the workspace foreign
key is stored even where it could be derived, so per-tenant indexes stay cheap
and every query can (and must) filter by it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def default_business_hours() -> dict:
    day = [["09:00", "17:00"]]
    return {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": [], "sun": []}


def default_languages() -> list:
    return ["en"]


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Workspace(TimeStamped):
    """A brand or a contact-centre client: the unit of tenancy."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    brand_group = models.CharField(
        _("brand group"), max_length=100, blank=True, help_text=_("Groups brands of one operator.")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    languages = models.JSONField(_("languages"), default=default_languages)
    business_hours = models.JSONField(_("business hours"), default=default_business_hours)
    holidays = models.JSONField(_("holidays"), default=list, blank=True)
    reopen_window_days = models.PositiveSmallIntegerField(_("reopen window (days)"), default=7)
    redact_pii = models.BooleanField(_("redact card numbers and secrets"), default=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # Last human conversation number handed out; bumped under the row's write lock.
    conversation_seq = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkspaceScoped(TimeStamped):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class Role(models.TextChoices):
    AGENT = "agent", _("Agent")
    LEAD = "lead", _("Team lead")
    ADMIN = "admin", _("Admin")


class Availability(models.TextChoices):
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class Member(WorkspaceScoped):
    """A user's membership of one workspace; the same person may serve several brands."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.AGENT)
    languages = models.JSONField(_("languages"), default=default_languages)
    skills = models.JSONField(_("skills"), default=list, blank=True)
    capacity = models.PositiveSmallIntegerField(_("capacity (open conversations)"), default=25)
    availability = models.CharField(
        _("availability"), max_length=10, choices=Availability.choices, default=Availability.OFFLINE
    )
    locale = models.CharField(_("interface language"), max_length=10, default="en")
    is_active = models.BooleanField(default=True)
    # Empty means the workspace's business hours.
    working_hours = models.JSONField(_("working hours"), default=dict, blank=True)
    # Channels this member answers; empty means all.
    channels = models.JSONField(_("channels"), default=list, blank=True)
    # Who takes this member's customers while they are away (the cover rule).
    cover = models.ForeignKey(
        "self",
        verbose_name=_("covered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="covering_for",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="member_unique_user"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()

    @property
    def is_lead(self) -> bool:
        return self.role in (Role.LEAD, Role.ADMIN)


class Department(models.TextChoices):
    SUPPORT = "support", _("Support")
    BILLING = "billing", _("Billing")
    LOGISTICS = "logistics", _("Logistics")
    PRODUCT = "product", _("Product")
    TECHNICAL = "technical", _("Technical")
    SALES = "sales", _("Sales")
    OTHER = "other", _("Other")


class Team(WorkspaceScoped):
    name = models.CharField(_("name"), max_length=120)
    department = models.CharField(
        _("department"), max_length=20, choices=Department.choices, default=Department.SUPPORT
    )
    lead = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="led_teams"
    )
    members = models.ManyToManyField(Member, blank=True, related_name="teams")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="team_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ApiToken(WorkspaceScoped):
    """A member's API token. Only a SHA-256 of the secret is kept; it is shown once."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.member})"


class AuditEntry(WorkspaceScoped):
    """Who did what, when, with the state before and after."""

    actor = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="audit_ws_time")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class Notification(WorkspaceScoped):
    """Something a member should see: an @mention, an assignment. Unread until read_at."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=30)
    text = models.CharField(_("text"), max_length=500)
    link = models.CharField(_("link"), max_length=300, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["member", "read_at", "created_at"], name="notification_member_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.member_id}"
