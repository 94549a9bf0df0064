import datetime as dt

from django.utils import timezone

from warmline.conversations import services
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.models import Conversation, EntryKind, TimelineEntry
from warmline.tenancy.models import Notification

from ..factories import TeamFactory

NOW = timezone.now()


def say(ws, text, minutes=0, **kw):
    return services.ingest(
        workspace=ws,
        message=InboundMessage(
            channel="chat",
            text=text,
            sender=Sender(email="ana@example.com"),
            sent_at=NOW + dt.timedelta(minutes=minutes),
        ),
    )


def test_churn_intent_escalates_to_owner_and_team_lead(workspace, member, lead):
    r = say(workspace, "Hi, quick question about my invoice")
    Conversation.objects.filter(pk=r.conversation.pk).update(
        owner=member, team=TeamFactory(workspace=workspace, lead=lead)
    )
    say(workspace, "This is it. Cancel my account, I'm switching to another provider.", minutes=5)
    conv = Conversation.objects.get(pk=r.conversation.pk)
    assert conv.escalated_at is not None
    esc = TimelineEntry.objects.get(conversation=conv, kind=EntryKind.ESCALATION)
    assert "churn_intent" in esc.data["reasons"] and "leaving" in esc.text
    assert set(
        Notification.objects.filter(kind="escalation").values_list("member_id", flat=True)
    ) == {member.pk, lead.pk}


def test_a_calm_conversation_is_not_escalated(workspace):
    r = say(workspace, "Hello, could you tell me when my order ships?")
    say(workspace, "Thanks a lot, that's great!", minutes=3)
    conv = Conversation.objects.get(pk=r.conversation.pk)
    assert conv.escalated_at is None
    assert not TimelineEntry.objects.filter(kind=EntryKind.ESCALATION).exists()


def test_sentiment_trajectory_is_kept_on_the_conversation(workspace):
    r = say(workspace, "Thank you so much, I love this shop!")
    say(
        workspace,
        "Actually the parcel arrived broken and nobody answers. Terrible, I'm furious.",
        minutes=5,
    )
    conv = Conversation.objects.get(pk=r.conversation.pk)
    assert conv.sentiment_first > 0.3
    assert conv.sentiment_last < 0 and conv.sentiment_lowest == conv.sentiment_last
    assert conv.escalated_at is not None  # a sharp negative shift, strong anger, or both


def test_card_numbers_never_reach_the_database(workspace):
    r = say(workspace, "My card is 4111 1111 1111 1111 cvv 123, please charge it")
    stored = TimelineEntry.objects.get(pk=r.entry.pk).text
    assert "4111" not in stored and "123" not in stored


CARD = "4111 1111 1111 1111"


def test_card_numbers_in_the_subject_never_reach_the_database(workspace, caplog):
    """The subject is stored twice (conversation, entry); logs must not carry it either."""
    from warmline.conversations.ingest_batch import ingest_many

    caplog.set_level("DEBUG")
    message = InboundMessage(
        channel="email",
        text="See subject. Order #W2378156 and my phone +1 415 555 0134 are fine to keep.",
        subject=f"Refund to card {CARD} please",
        sender=Sender(email="ana@example.com"),
        external_id="subj-1",
    )
    r = services.ingest(workspace=workspace, message=message)
    batch = InboundMessage(
        channel="email",
        text="again",
        subject=f"Card {CARD}",
        sender=Sender(email="bo@example.com"),
        external_id="subj-2",
    )
    ingest_many(workspace=workspace, messages=[batch])
    subjects = list(TimelineEntry.objects.values_list("subject", flat=True))
    subjects += list(Conversation.objects.values_list("subject", flat=True))
    assert len(subjects) == 4
    assert all("4111" not in s for s in subjects), subjects
    assert all("[redacted card number]" in s for s in subjects), subjects
    entry = TimelineEntry.objects.get(pk=r.entry.pk)
    assert "W2378156" in entry.text and "415 555 0134" in entry.text
    assert "4111" not in caplog.text


def test_subject_is_kept_when_the_workspace_turns_redaction_off(workspace):
    workspace.redact_pii = False
    workspace.save(update_fields=["redact_pii"])
    message = InboundMessage(
        channel="email", text="hi", subject=f"card {CARD}", sender=Sender(email="c@example.com")
    )
    r = services.ingest(workspace=workspace, message=message)
    assert CARD in Conversation.objects.get(pk=r.conversation.pk).subject


def test_escalated_cases_are_marked_and_filterable_in_the_inbox(workspace, member, client):
    from warmline.conversations import inbox

    calm = say(workspace, "Hello, when does my order ship?").conversation
    angry = services.ingest(
        workspace=workspace,
        message=InboundMessage(
            channel="chat",
            text="Cancel my account now, I'm switching to another provider.",
            sender=Sender(email="bo@example.com"),
            sent_at=NOW,
        ),
    ).conversation
    assert Conversation.objects.get(pk=angry.pk).escalated_at is not None
    Conversation.objects.filter(pk__in=[calm.pk, angry.pk]).update(owner=member)
    q = inbox.parse({"view": "all", "flag": "escalated"})
    assert [c.number for c in inbox.page(member, q).rows] == [angry.number]
    client.force_login(member.user)
    html = client.get("/?view=all").content.decode()
    assert html.count('class="chip escalated"') == 1
    row = html[html.index(f'data-number="{angry.number}"') :]
    assert row.index('class="chip escalated"') < row.index("</tr>")


def test_trajectory_shows_on_the_case_and_the_360_panel(workspace, member, client):
    from ..factories import ConversationFactory

    first = say(workspace, "Thank you so much, I love this shop!").conversation
    say(workspace, "The parcel arrived broken. Terrible, I'm furious.", minutes=5)
    conv = Conversation.objects.get(pk=first.pk)
    assert conv.sentiment_change == round(conv.sentiment_last - conv.sentiment_first, 4) < -0.5
    past = ConversationFactory(
        customer=conv.customer,
        status="closed",
        sentiment_first=0.8,
        sentiment_lowest=-0.7,
        sentiment_last=-0.7,
        last_activity_at=NOW - dt.timedelta(days=30),
    )
    client.force_login(member.user)
    page = client.get(f"/c/{conv.number}/").content.decode()
    assert "data-trajectory" in page
    trend = page[page.index('class="sentiment-trend"') :]
    trend = trend[: trend.index("</section>")]
    assert trend.count("data-trend") == 1 and f"#{past.number}" in trend
    assert 'Positive</span> → <span class="chip mood negative">Negative' in trend
