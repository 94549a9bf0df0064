"""One ingest stays a handful of statements (bench/ingest.py, docs/ingest.md).

The bounds are what one message costs today plus a little room; a change that
adds a query per message (an N+1 in a subscriber, a lookup that should be cached)
makes these fail instead of quietly slowing the single-message path.
"""

import pytest
from django.utils import timezone

from warmline.conversations import services
from warmline.conversations.inbound import InboundMessage, Sender

NOW = timezone.now().replace(microsecond=0)


def msg(ext, email, text="My order 12345 has not arrived and I am upset."):
    return InboundMessage(
        channel="api", text=text, sender=Sender(email=email), external_id=ext, sent_at=NOW
    )


@pytest.mark.django_db
def test_new_customer_and_new_case_is_bounded(workspace, django_assert_max_num_queries):
    with django_assert_max_num_queries(16):
        result = services.ingest(workspace=workspace, message=msg("q-1", "new@example.com"))
    assert result.created and result.new_conversation


@pytest.mark.django_db
def test_follow_up_in_the_open_case_is_bounded(workspace, django_assert_max_num_queries):
    first = services.ingest(workspace=workspace, message=msg("q-1", "ana@example.com"))
    with django_assert_max_num_queries(10):
        second = services.ingest(workspace=workspace, message=msg("q-2", "ana@example.com"))
    assert second.created and not second.new_conversation
    assert second.conversation.pk == first.conversation.pk


@pytest.mark.django_db
def test_retried_delivery_is_two_reads(workspace, django_assert_max_num_queries):
    first = services.ingest(workspace=workspace, message=msg("q-1", "ana@example.com"))
    with django_assert_max_num_queries(2):
        again = services.ingest(workspace=workspace, message=msg("q-1", "ana@example.com"))
    assert not again.created and again.entry.pk == first.entry.pk


@pytest.mark.django_db
def test_announcement_after_commit_is_bounded(
    workspace, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """The post-commit announcement and the queued work it fans out stay bounded.

    Huey runs in immediate mode under test, so this counts the subscribers' tasks
    too (proactive topics, care health, insights roll-ups: 49 statements today).
    """
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.ingest(workspace=workspace, message=msg("q-1", "ana@example.com"))
    assert callbacks
    with django_assert_max_num_queries(60):
        for callback in callbacks:
            callback()


@pytest.mark.django_db(transaction=True)
def test_sqlite_ingest_takes_the_process_write_gate_only_when_outermost():
    """Outermost ingest transactions on SQLite queue on one lock per process; inside a
    caller's transaction (which may already hold SQLite's lock) the gate is skipped."""
    from django.db import connection, transaction

    gate = services._write_gate()
    if connection.vendor == "sqlite":
        assert gate is services._SQLITE_WRITE_GATE
    else:
        assert gate is not services._SQLITE_WRITE_GATE
    with transaction.atomic():
        assert services._write_gate() is not services._SQLITE_WRITE_GATE
    assert not services._SQLITE_WRITE_GATE.locked()
