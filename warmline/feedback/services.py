"""Survey use cases: settings, sending (after resolution or on demand), answering, recovery."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from warmline.channels import outbound
from warmline.channels.models import OutboundMessage, OutboundStatus
from warmline.conversations import services as conversations
from warmline.conversations.models import Conversation, EntryKind, Status, TimelineEntry
from warmline.errors import Conflict, DomainError, InvalidInput, NotFound
from warmline.tenancy.models import Member, Workspace

from . import texts
from .models import (
    SCALES,
    Answer,
    DeliveryChannel,
    Kind,
    RecoveryTask,
    Survey,
    SurveyResponse,
    SurveySettings,
    SurveyStatus,
    Trigger,
)

log = logging.getLogger(__name__)

RECOVERY_DUE = dt.timedelta(hours=24)
# Which conversation channel carries the invitation for each delivery channel.
CARRIER = {DeliveryChannel.EMAIL: "email", DeliveryChannel.CHAT: "chat", DeliveryChannel.SMS: "sms"}


class SurveyGone(DomainError):
    """This survey link has expired."""

    status = 410
    code = "gone"
    language = "en"


class Unreachable(InvalidInput):
    """The customer cannot be reached on the chosen channel (no address, no open chat)."""

    code = "unreachable"


class Throttled(Conflict):
    """The customer was surveyed too recently."""

    code = "throttled"


# --- Classification (the definitions docs/kpis.md cites) ---------------------------


def is_detractor(kind: str, score: int) -> bool:
    """NPS 0–6, CSAT 1–2, CES 1–3 (disagree that it was easy)."""
    return {Kind.NPS: score <= 6, Kind.CSAT: score <= 2, Kind.CES: score <= 3}[kind]


def is_promoter(kind: str, score: int) -> bool:
    """NPS 9–10, CSAT 5; CES never invites a review on its own."""
    return {Kind.NPS: score >= 9, Kind.CSAT: score == 5, Kind.CES: False}[kind]


# --- Settings -------------------------------------------------------------------------


def get_settings(workspace: Workspace) -> SurveySettings:
    found = SurveySettings.objects.filter(workspace=workspace).first()
    if found:
        return found
    try:
        with transaction.atomic():
            return SurveySettings.objects.create(workspace=workspace)
    except IntegrityError:
        return SurveySettings.objects.get(workspace=workspace)


EDITABLE = (
    "nps_enabled",
    "csat_enabled",
    "ces_enabled",
    "send_on_resolve",
    "delay_minutes",
    "channel",
    "throttle_days",
    "expires_days",
    "review_url",
    "questions",
)


def update_settings(*, workspace: Workspace, actor: Member, changes: dict) -> SurveySettings:
    from warmline.tenancy.services import record_audit

    current = get_settings(workspace)
    before = {k: getattr(current, k) for k in changes}
    for key, value in changes.items():
        if key not in EDITABLE:
            raise InvalidInput(f"'{key}' cannot be changed.", field=key)
        if key == "channel" and value not in DeliveryChannel.values:
            raise InvalidInput(f"Unknown channel '{value}'.", field="channel")
        if key == "questions":
            _check_questions(value)
        setattr(current, key, value)
    current.save()
    record_audit(
        workspace=workspace,
        actor=actor,
        action="surveys.settings",
        obj=current,
        before=before,
        after=changes,
    )
    return current


def _check_questions(value) -> None:
    if not isinstance(value, dict):
        raise InvalidInput("questions must be an object.", field="questions")
    for kind, per_lang in value.items():
        if kind not in Kind.values or not isinstance(per_lang, dict):
            raise InvalidInput(f"Unknown survey '{kind}'.", field="questions")
        for lang, text in per_lang.items():
            if lang not in texts.SUPPORTED or not isinstance(text, str) or len(text) > 300:
                raise InvalidInput(f"Bad question text for {kind}/{lang}.", field="questions")


# --- Sending --------------------------------------------------------------------------


def public_url(token: str) -> str:
    base = getattr(django_settings, "WARMLINE_PUBLIC_URL", "") or os.environ.get(
        "WARMLINE_PUBLIC_URL", "http://127.0.0.1:8000"
    )
    return base.rstrip("/") + reverse("feedback:survey", args=[token])


def last_survey_at(*, workspace: Workspace, customer_id: int) -> dt.datetime | None:
    return (
        Survey.objects.filter(workspace=workspace, customer_id=customer_id)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )


def send_survey(
    *,
    workspace: Workspace,
    conversation: Conversation,
    trigger: str = Trigger.MANUAL,
    actor: Member | None = None,
    kinds: list[str] | None = None,
    channel: str | None = None,
    now: dt.datetime | None = None,
) -> Survey:
    """Create the survey and send the invitation through the one outbound path.

    Raises Throttled if the customer was surveyed too recently, Unreachable when the
    channel cannot reach them (then nothing is kept). The invitation is an assistant
    reply, so it never counts as the first response; ``send()`` records it on the
    timeline and in the outbox and the channel adapter delivers it after commit.
    """
    cfg = get_settings(workspace)
    kinds = list(dict.fromkeys(kinds or cfg.kinds()))
    if not kinds:
        raise InvalidInput("No survey is enabled for this workspace.", field="kinds")
    for kind in kinds:
        if kind not in Kind.values:
            raise InvalidInput(f"Unknown survey '{kind}'.", field="kinds")
    channel = channel or cfg.channel
    if channel not in DeliveryChannel.values:
        raise InvalidInput(f"Unknown channel '{channel}'.", field="channel")
    now = now or timezone.now()
    customer = conversation.customer
    language = texts.language_for(customer.preferred_language)
    with transaction.atomic():
        # Serialise per customer (SQLite takes the write lock; PostgreSQL locks the row).
        type(customer).objects.select_for_update().filter(pk=customer.pk).first()
        last = last_survey_at(workspace=workspace, customer_id=customer.pk)
        if last is not None and now - last < dt.timedelta(days=cfg.throttle_days):
            raise Throttled(
                f"This customer was surveyed on {last:%Y-%m-%d}; the workspace allows one "
                f"survey every {cfg.throttle_days} days."
            )
        survey = Survey.objects.create(
            workspace=workspace,
            conversation=conversation,
            customer=customer,
            token=secrets.token_urlsafe(24),
            kinds=kinds,
            language=language,
            channel=channel,
            trigger=trigger,
            sent_at=now,
            expires_at=now + dt.timedelta(days=cfg.expires_days),
            requested_by=actor,
        )
        link = public_url(survey.token)
        message = outbound.send(
            workspace=workspace,
            actor=None,
            conversation=conversation,
            text=texts.ui("invite", language).format(number=conversation.number, link=link),
            subject=texts.ui("subject", language).format(number=conversation.number),
            channel=CARRIER[channel],
            kind=EntryKind.ASSISTANT_REPLY,
            idempotency_key=f"survey-{survey.pk}",
            payload={
                "survey": {"url": link, "kinds": kinds, "language": language},
                **({"card": survey_card(survey, cfg)} if channel == DeliveryChannel.CHAT else {}),
            },
        )
        if message.status == OutboundStatus.FAILED:
            # No survey the customer can never open: it would only lower the response rate.
            raise Unreachable(
                f"The survey cannot be sent by {channel}: {message.last_error}", field="channel"
            )
    return survey


def survey_card(survey: Survey, cfg: SurveySettings | None = None) -> dict:
    """The in-chat card: the questions in the customer's language, the scales, the token.

    The widget renders it with score buttons and posts the answer to ``answer_path``
    (the token is the only credential, as on the public page); ``url`` is the page.
    """
    cfg = cfg or get_settings(survey.workspace)
    lang = survey.language
    questions = []
    for kind in survey.kinds:
        lo, hi, _ = SCALES[kind]
        low, high = texts.labels(kind, lang)
        text = texts.question(kind, lang, brand=survey.workspace.name, overrides=cfg.questions)
        questions.append({"kind": kind, "text": text, "min": lo, "max": hi, "low": low,
                          "high": high})  # fmt: skip
    return {
        "kind": "survey",
        "token": survey.token,
        "url": public_url(survey.token),
        "answer_path": reverse("feedback:answer", args=[survey.token]),
        "language": lang,
        "title": texts.ui("title", lang),
        "thanks": texts.ui("thanks", lang),
        "already": texts.ui("already", lang),
        "questions": questions,
        "answered": False,
    }


def _mark_card_answered(survey: Survey, scores: dict[str, int]) -> None:
    """The chat transcript replays the card as answered (the thank-you, not the buttons)."""
    entry_id = (
        OutboundMessage.objects.filter(
            workspace=survey.workspace, idempotency_key=f"survey-{survey.pk}"
        )
        .values_list("entry_id", flat=True)
        .first()
    )
    entry = TimelineEntry.objects.filter(workspace=survey.workspace, pk=entry_id).first()
    if entry is None or not (entry.data or {}).get("card"):
        return
    data = {**entry.data, "card": {**entry.data["card"], "answered": True, "scores": scores}}
    TimelineEntry.objects.filter(pk=entry.pk).update(data=data)


def send_after_resolution(*, conversation_id: int, now: dt.datetime | None = None) -> Survey | None:
    """The automatic survey: only if the case is still resolved and the customer not throttled."""
    conv = (
        Conversation.objects.select_related("customer", "workspace")
        .filter(pk=conversation_id)
        .first()
    )
    if conv is None or conv.status != Status.RESOLVED:
        return None
    cfg = get_settings(conv.workspace)
    if not cfg.send_on_resolve or not cfg.kinds():
        return None
    if Survey.objects.filter(workspace=conv.workspace, conversation=conv).exists():
        return None
    try:
        return send_survey(
            workspace=conv.workspace, conversation=conv, trigger=Trigger.RESOLVED, now=now
        )
    except Throttled:
        log.info("survey for conversation %s throttled", conversation_id)
        return None
    except Unreachable as exc:
        log.warning("survey for conversation %s not sent: %s", conversation_id, exc.message)
        return None


def list_surveys(*, workspace: Workspace, conversation_id: int | None = None) -> QuerySet[Survey]:
    qs = Survey.objects.filter(workspace=workspace).order_by("-sent_at", "-id")
    if conversation_id is not None:
        qs = qs.filter(conversation_id=conversation_id)
    return qs


def get_survey(*, workspace: Workspace, survey_id: int) -> Survey:
    try:
        return Survey.objects.get(workspace=workspace, pk=survey_id)
    except (Survey.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such survey.", field="survey_id") from None


# --- Answering (public, by token) ----------------------------------------------------


def survey_for_token(token: str, *, now: dt.datetime | None = None) -> Survey:
    """The survey a token opens: NotFound for an unknown token, SurveyGone once expired."""
    survey = (
        Survey.objects.select_related("workspace", "customer", "conversation")
        .filter(token=token)
        .first()
        if token and len(token) <= 64
        else None
    )
    if survey is None:
        raise NotFound("We could not find this survey.")
    if survey.status != SurveyStatus.ANSWERED and (now or timezone.now()) >= survey.expires_at:
        gone = SurveyGone()
        gone.language = survey.language  # the page still speaks the customer's language
        raise gone
    return survey


@dataclass
class Submitted:
    survey: Survey
    response: SurveyResponse
    detractor: bool
    promoter: bool
    review_url: str
    recovery: RecoveryTask | None


def submit_answers(
    *, token: str, scores: dict[str, int], comment: str = "", now: dt.datetime | None = None
) -> Submitted:
    """Store the one response a token allows; a second submit raises Conflict.

    The unique survey on SurveyResponse makes two racing submits end with one answer.
    """
    now = now or timezone.now()
    survey = survey_for_token(token, now=now)
    if survey.status == SurveyStatus.ANSWERED:
        raise Conflict("This survey has already been answered.")
    clean: dict[str, int] = {}
    for kind in survey.kinds:
        if kind not in scores or scores[kind] is None:
            raise InvalidInput("Please choose a score.", field=kind)
        lo, hi, _ = SCALES[kind]
        try:
            value = int(scores[kind])
        except (TypeError, ValueError):
            raise InvalidInput("The score must be a number.", field=kind) from None
        if not lo <= value <= hi:
            raise InvalidInput(f"The score must be between {lo} and {hi}.", field=kind)
        clean[kind] = value
    comment = (comment or "").strip()[:5000]
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                workspace=survey.workspace,
                survey=survey,
                comment=comment,
                language=survey.language,
                submitted_at=now,
            )
            Answer.objects.bulk_create(
                [
                    Answer(
                        workspace=survey.workspace,
                        response=response,
                        survey=survey,
                        conversation=survey.conversation,
                        kind=kind,
                        score=value,
                        scale_min=SCALES[kind][0],
                        scale_max=SCALES[kind][1],
                        direction=SCALES[kind][2],
                        answered_at=now,
                    )
                    for kind, value in clean.items()
                ]
            )
            Survey.objects.filter(pk=survey.pk).update(
                status=SurveyStatus.ANSWERED, answered_at=now
            )
            survey.status, survey.answered_at = SurveyStatus.ANSWERED, now
            summary = ", ".join(f"{k.upper()} {v}" for k, v in clean.items())
            conversations.add_system_entry(
                conversation=survey.conversation,
                kind=EntryKind.SURVEY_ANSWER,
                text=summary + (f" — “{comment}”" if comment else ""),
                data={"survey_id": survey.pk, "scores": clean, "comment": comment},
                at=now,
            )
            detractor = any(is_detractor(k, v) for k, v in clean.items())
            promoter = not detractor and any(is_promoter(k, v) for k, v in clean.items())
            recovery = (
                open_recovery_task(survey=survey, scores=clean, now=now) if detractor else None
            )
            _mark_card_answered(survey, clean)
    except IntegrityError:
        raise Conflict("This survey has already been answered.") from None
    cfg = get_settings(survey.workspace)
    return Submitted(
        survey=survey,
        response=response,
        detractor=detractor,
        promoter=promoter,
        review_url=cfg.review_url if promoter else "",
        recovery=recovery,
    )


def open_recovery_task(*, survey: Survey, scores: dict[str, int], now: dt.datetime) -> RecoveryTask:
    """The owner calls the unhappy customer back; noted on the timeline so nobody is surprised."""
    conv = survey.conversation
    low = ", ".join(f"{k.upper()} {v}" for k, v in scores.items() if is_detractor(k, v))
    owner_id = conv.owner_id or survey.customer.owner_id
    task = RecoveryTask.objects.create(
        workspace=survey.workspace,
        member_id=owner_id,
        customer=survey.customer,
        conversation=conv,
        survey=survey,
        reason=f"Detractor answer ({low}) on conversation #{conv.number}",
        due_at=now + RECOVERY_DUE,
    )
    conversations.add_system_entry(
        conversation=conv,
        kind=EntryKind.SYSTEM,
        text=f"Recovery follow-up opened: {task.reason}",
        data={"recovery_task_id": task.pk, "member_id": owner_id},
        at=now,
    )
    if owner_id:
        from warmline.tenancy.services import notify

        notify(
            member=Member.objects.get(pk=owner_id),
            kind="recovery",
            text=task.reason,
            link=f"/c/{conv.number}/",
        )
    return task


def list_recovery_tasks(
    *, workspace: Workspace, member_id: int | None = None, open_only: bool = True
) -> QuerySet[RecoveryTask]:
    qs = RecoveryTask.objects.filter(workspace=workspace).order_by("due_at", "id")
    if member_id is not None:
        qs = qs.filter(member_id=member_id)
    if open_only:
        qs = qs.filter(done_at__isnull=True)
    return qs


def complete_recovery_task(*, workspace: Workspace, actor: Member, task_id: int) -> RecoveryTask:
    task = RecoveryTask.objects.filter(workspace=workspace, pk=task_id).first()
    if task is None:
        raise NotFound("No such recovery task.", field="task_id")
    if task.done_at is None:
        task.done_at = timezone.now()
        task.save(update_fields=["done_at", "updated_at"])
    return task
