"""Background work for channels (Huey tasks call services; no logic here)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import outbound


@db_task()
def deliver_outbound(message_id: int) -> str | None:
    """Try one outbox row (enqueued after send() commits, and again after back-off)."""
    return outbound.attempt(message_id)


@db_periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    """Retry what is due from the record: lost tasks, crashed senders, back-off expiry."""
    return outbound.retry_due()


@db_periodic_task(crontab(minute="*"))
def poll_imap_mailboxes() -> int:
    """Fetch new mail from every active IMAP mailbox."""
    from .email.imap import poll_all

    return poll_all()
