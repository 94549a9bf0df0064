"""One queued task per stored message runs every background subscriber."""

import pytest
from django.utils import timezone

from warmline.conversations import announce, services
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.signals import message_ingested, message_ingested_background


def msg(ext, email="ana@example.com"):
    return InboundMessage(
        channel="api",
        text="Where is my parcel?",
        sender=Sender(email=email),
        external_id=ext,
        sent_at=timezone.now(),
    )


@pytest.mark.django_db(transaction=True)
def test_live_listeners_hear_at_once_background_subscribers_in_the_task(workspace):
    heard = []

    def live(sender, **kw):
        heard.append(("live", kw["entry_id"]))

    def background(sender, **kw):
        heard.append(("background", kw["entry_id"]))

    message_ingested.connect(live)
    message_ingested_background.connect(background)
    try:
        result = services.ingest(workspace=workspace, message=msg("a-1"))
    finally:
        message_ingested.disconnect(live)
        message_ingested_background.disconnect(background)
    # Huey runs immediately under test: the one queued task has run by now.
    assert heard == [("live", result.entry.pk), ("background", result.entry.pk)]


@pytest.mark.django_db(transaction=True)
def test_one_task_is_queued_per_message(workspace, monkeypatch):
    from warmline.conversations import tasks

    queued = []
    monkeypatch.setattr(tasks, "message_followups", queued.append)
    services.ingest(workspace=workspace, message=msg("a-1"))
    services.ingest(workspace=workspace, message=msg("a-1"))  # a retry announces nothing
    services.ingest(workspace=workspace, message=msg("a-2"))
    assert len(queued) == 2
    assert {"workspace_id", "entry_id", "conversation_id", "customer_id"} <= set(queued[0])


@pytest.mark.django_db
def test_a_failing_subscriber_does_not_stop_the_others(workspace, caplog):
    ran = []

    def broken(sender, **kw):
        raise RuntimeError("boom")

    def fine(sender, **kw):
        ran.append(kw["entry_id"])

    message_ingested_background.connect(broken)
    message_ingested_background.connect(fine)
    try:
        failed = announce.run_background(
            {"workspace_id": workspace.pk, "entry_id": 1, "conversation_id": 1, "customer_id": 1}
        )
    finally:
        message_ingested_background.disconnect(broken)
        message_ingested_background.disconnect(fine)
    assert failed >= 1 and ran == [1]
    assert "boom" in caplog.text or "failed on entry 1" in caplog.text
