"""Surveys (NPS, CSAT, CES), their answers, and the recovery tasks a detractor creates.

Every answer stores its scale and direction, so a later change of question or
scale never reinterprets old scores.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.conversations.models import Conversation
from warmline.customers.models import Customer
from warmline.tenancy.models import Member, WorkspaceScoped


class Kind(models.TextChoices):
    NPS = "nps", _("Net Promoter Score")
    CSAT = "csat", _("Customer satisfaction")
    CES = "ces", _("Customer effort")


# (min, max, direction): "higher_better" means a higher number is the happier answer.
SCALES = {
    Kind.NPS: (0, 10, "higher_better"),
    Kind.CSAT: (1, 5, "higher_better"),
    # 7-point agreement with "made it easy to handle my request": 7 = strongly agree = low effort.
    Kind.CES: (1, 7, "higher_better"),
}


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", _("Email link")
    CHAT = "chat", _("In-chat card")
    SMS = "sms", _("SMS link")


class SurveySettings(WorkspaceScoped):
    """Which surveys a workspace asks, when, how, and how often per customer."""

    nps_enabled = models.BooleanField(_("ask NPS"), default=True)
    csat_enabled = models.BooleanField(_("ask CSAT"), default=True)
    ces_enabled = models.BooleanField(_("ask CES"), default=False)
    send_on_resolve = models.BooleanField(_("send after resolution"), default=True)
    delay_minutes = models.PositiveIntegerField(_("delay after resolution (minutes)"), default=60)
    channel = models.CharField(
        _("channel"), max_length=10, choices=DeliveryChannel.choices, default=DeliveryChannel.EMAIL
    )
    throttle_days = models.PositiveSmallIntegerField(
        _("at most one survey per customer in (days)"), default=30
    )
    expires_days = models.PositiveSmallIntegerField(_("link valid for (days)"), default=14)
    review_url = models.URLField(_("public review link for promoters"), blank=True)
    # {"nps": {"en": "...", "es": "..."}}: overrides the built-in question wording.
    questions = models.JSONField(_("question text overrides"), default=dict, blank=True)

    class Meta:
        verbose_name_plural = "survey settings"
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="survey_settings_one_per_ws"),
        ]

    def kinds(self) -> list[str]:
        return [
            k
            for k, on in (
                (Kind.NPS, self.nps_enabled),
                (Kind.CSAT, self.csat_enabled),
                (Kind.CES, self.ces_enabled),
            )
            if on
        ]


class SurveyStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    ANSWERED = "answered", _("Answered")


class Trigger(models.TextChoices):
    RESOLVED = "resolved", _("After resolution")
    MANUAL = "manual", _("On demand")


class Survey(WorkspaceScoped):
    """One invitation, reachable through its token, asking one or more questions."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True)
    kinds = models.JSONField(default=list)
    language = models.CharField(max_length=10, default="en")
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(
        max_length=10, choices=SurveyStatus.choices, default=SurveyStatus.SENT
    )
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "customer", "sent_at"], name="survey_ws_customer"),
            models.Index(fields=["conversation"], name="survey_conversation"),
        ]

    def __str__(self) -> str:
        return f"survey {self.pk} ({','.join(self.kinds)})"


class SurveyResponse(WorkspaceScoped):
    """The one submission a token allows; the unique survey makes a double submit fail."""

    survey = models.OneToOneField(Survey, on_delete=models.CASCADE, related_name="response")
    comment = models.TextField(blank=True)
    language = models.CharField(max_length=10, blank=True)
    submitted_at = models.DateTimeField()


class Answer(WorkspaceScoped):
    """One score on one scale; the scale and its direction travel with it."""

    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="answers")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    score = models.SmallIntegerField()
    scale_min = models.SmallIntegerField()
    scale_max = models.SmallIntegerField()
    direction = models.CharField(max_length=15, default="higher_better")
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "kind"], name="answer_one_per_kind"),
            models.CheckConstraint(
                condition=models.Q(score__gte=models.F("scale_min"))
                & models.Q(score__lte=models.F("scale_max")),
                name="answer_score_in_scale",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "kind", "answered_at"], name="answer_ws_kind_time"),
            models.Index(fields=["conversation"], name="answer_conversation"),
        ]


class RecoveryTask(WorkspaceScoped):
    """A follow-up owed to an unhappy customer: the conversation owner calls them back."""

    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="recovery_tasks"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(Survey, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=300)
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "member", "done_at"], name="recovery_ws_member"),
        ]

    def __str__(self) -> str:
        return self.reason
