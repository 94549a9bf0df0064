from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from tests.factories import ConversationFactory
from warmline.channels.models import OutboundMessage
from warmline.conversations.models import EntryKind, TimelineEntry
from warmline.errors import Conflict, InvalidInput, NotFound
from warmline.feedback import services
from warmline.feedback.models import Answer, RecoveryTask, Survey, SurveySettings


def test_survey_asks_enabled_kinds_and_records_the_invitation(workspace, conversation):
    survey = services.send_survey(workspace=workspace, conversation=conversation)
    assert survey.kinds == ["nps", "csat"]
    assert survey.language == "es"
    invite = TimelineEntry.objects.get(conversation=conversation, kind=EntryKind.ASSISTANT_REPLY)
    assert survey.token in invite.text and "resuelta" in invite.text
    conversation.refresh_from_db()
    assert conversation.first_response_at is None  # automated: not a first response


def test_throttle_refuses_a_second_survey_within_n_days(workspace, conversation, customer):
    now = timezone.now()
    services.send_survey(workspace=workspace, conversation=conversation, now=now)
    other = ConversationFactory(workspace=workspace, customer=customer, status="resolved")
    with pytest.raises(services.Throttled):
        services.send_survey(
            workspace=workspace, conversation=other, now=now + dt.timedelta(days=29)
        )
    later = services.send_survey(
        workspace=workspace, conversation=other, now=now + dt.timedelta(days=30)
    )
    assert later.pk


def test_disabled_surveys_are_not_sent(workspace, conversation):
    SurveySettings.objects.create(
        workspace=workspace, nps_enabled=False, csat_enabled=False, ces_enabled=False
    )
    with pytest.raises(InvalidInput):
        services.send_survey(workspace=workspace, conversation=conversation)


def test_answer_stores_scale_and_direction(survey):
    services.submit_answers(token=survey.token, scores={"nps": 8, "csat": 4}, comment="ok")
    nps = Answer.objects.get(survey=survey, kind="nps")
    assert (nps.score, nps.scale_min, nps.scale_max, nps.direction) == (8, 0, 10, "higher_better")
    survey.refresh_from_db()
    assert survey.status == "answered"
    entry = TimelineEntry.objects.get(conversation=survey.conversation, kind="survey_answer")
    assert entry.data["scores"] == {"nps": 8, "csat": 4}
    assert "ok" in entry.text


def test_double_submit_is_a_conflict_and_keeps_one_answer(survey):
    services.submit_answers(token=survey.token, scores={"nps": 10, "csat": 5})
    with pytest.raises(Conflict):
        services.submit_answers(token=survey.token, scores={"nps": 0, "csat": 1})
    assert Answer.objects.filter(survey=survey, kind="nps").get().score == 10


def test_out_of_scale_score_is_refused(survey):
    with pytest.raises(InvalidInput) as exc:
        services.submit_answers(token=survey.token, scores={"nps": 11, "csat": 3})
    assert exc.value.field == "nps"
    with pytest.raises(InvalidInput):
        services.submit_answers(token=survey.token, scores={"nps": 5})  # csat missing
    assert not Answer.objects.exists()


def test_unknown_and_expired_tokens(survey):
    with pytest.raises(NotFound):
        services.survey_for_token("nope")
    with pytest.raises(services.SurveyGone):
        services.survey_for_token(survey.token, now=survey.expires_at)


@pytest.mark.parametrize(
    ("kind", "score", "detractor", "promoter"),
    [
        ("nps", 6, True, False),
        ("nps", 7, False, False),
        ("nps", 8, False, False),
        ("nps", 9, False, True),
        ("csat", 2, True, False),
        ("csat", 3, False, False),
        ("csat", 5, False, True),
        ("ces", 3, True, False),
        ("ces", 4, False, False),
    ],
)
def test_classification(kind, score, detractor, promoter):
    assert services.is_detractor(kind, score) is detractor
    assert services.is_promoter(kind, score) is promoter


def test_detractor_opens_recovery_task_for_owner(survey, member):
    result = services.submit_answers(token=survey.token, scores={"nps": 3, "csat": 4})
    assert result.detractor and not result.promoter
    task = RecoveryTask.objects.get()
    assert task.member == member and task.conversation == survey.conversation
    assert "NPS 3" in task.reason and "CSAT" not in task.reason
    assert task.due_at > timezone.now()
    assert TimelineEntry.objects.filter(
        conversation=survey.conversation, kind="system", data__recovery_task_id=task.pk
    ).exists()
    assert member.notifications.filter(kind="recovery").count() == 1


def test_promoter_gets_review_link_when_configured(workspace, survey):
    services.update_settings(
        workspace=workspace, actor=None, changes={"review_url": "https://reviews.example/acme"}
    )
    result = services.submit_answers(token=survey.token, scores={"nps": 10, "csat": 5})
    assert result.promoter and result.review_url == "https://reviews.example/acme"
    assert not RecoveryTask.objects.exists()


def test_auto_survey_after_resolution(workspace, conversation, django_capture_on_commit_callbacks):
    from warmline.conversations.services import update_conversation

    SurveySettings.objects.create(workspace=workspace, delay_minutes=0, channel="email")
    conversation.status = "open"
    conversation.save()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        update_conversation(
            workspace=workspace,
            actor=None,
            conversation=conversation,
            changes={"status": "resolved"},
        )
    survey = Survey.objects.get(conversation=conversation)
    assert survey.trigger == "resolved" and survey.channel == "email"
    # Delivered by the email adapter, in the customer's language, with the survey link.
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ana@example.org"] and f"/s/{survey.token}/" in sent.body
    assert "¿Cómo lo hicimos?" in sent.subject
    # A second resolution (after a reopen) does not survey again.
    assert services.send_after_resolution(conversation_id=conversation.pk) is None


def test_auto_survey_waits_for_the_delay(
    workspace, conversation, django_capture_on_commit_callbacks
):
    from huey.contrib.djhuey import HUEY

    from warmline.conversations.services import update_conversation

    conversation.status = "open"
    conversation.save()
    before = len(HUEY.scheduled())
    with django_capture_on_commit_callbacks(execute=True):
        update_conversation(
            workspace=workspace,
            actor=None,
            conversation=conversation,
            changes={"status": "resolved"},
        )
    assert not Survey.objects.exists()
    assert len(HUEY.scheduled()) == before + 1
    HUEY.storage.flush_schedule()


def test_auto_survey_skips_reopened_conversation(conversation):
    conversation.status = "open"
    conversation.save()
    assert services.send_after_resolution(conversation_id=conversation.pk) is None


def test_question_overrides_per_language(workspace):
    services.update_settings(
        workspace=workspace, actor=None, changes={"questions": {"nps": {"es": "¿{brand}?"}}}
    )
    from warmline.feedback import texts

    cfg = services.get_settings(workspace)
    assert texts.question("nps", "es", brand="Acme", overrides=cfg.questions) == "¿Acme?"
    assert "recommend Acme" in texts.question("nps", "en", brand="Acme", overrides=cfg.questions)
    with pytest.raises(InvalidInput):
        services.update_settings(
            workspace=workspace, actor=None, changes={"questions": {"xyz": {"en": "?"}}}
        )


def test_sms_link_goes_to_the_customers_phone(workspace, conversation, customer):
    from tests.factories import IdentityFactory
    from warmline.channels.messaging.models import MessagingAccount

    MessagingAccount.objects.create(
        workspace=workspace, name="Twilio", provider="twilio", sms_number="+34910000000"
    )
    IdentityFactory(workspace=workspace, customer=customer, kind="phone", value="+34600111222")
    survey = services.send_survey(workspace=workspace, conversation=conversation, channel="sms")
    sent = OutboundMessage.objects.get(conversation=conversation)
    assert sent.channel == "sms" and sent.recipient == "+34600111222"
    assert f"/s/{survey.token}/" in sent.text and sent.text.startswith("Su conversación")


def test_auto_survey_skips_a_customer_it_cannot_reach(workspace, conversation):
    SurveySettings.objects.create(workspace=workspace, delay_minutes=0, channel="sms")
    assert services.send_after_resolution(conversation_id=conversation.pk) is None
    assert not Survey.objects.filter(conversation=conversation).exists()
