"""IMAP polling against a real dovecot on loopback (skipped where dovecot is absent)."""

from __future__ import annotations

import imaplib
import ssl
from pathlib import Path

import pytest

from warmline.channels.email import imap
from warmline.channels.models import QuarantinedEmail, Security
from warmline.conversations.models import TimelineEntry
from warmline.errors import InvalidInput

from .dovecot import PASSWORD, USER, dovecot, dovecot_server  # noqa: F401 (fixtures)

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _context(server) -> ssl.SSLContext:
    # Trust the test server's own certificate (issued to "localhost", reached on 127.0.0.1).
    context = ssl.create_default_context(cafile=str(server.root / "cert.pem"))
    context.check_hostname = False
    return context


def _client(server) -> imaplib.IMAP4:
    conn = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    conn.starttls(ssl_context=_context(server))
    conn.login(USER, PASSWORD)
    return conn


def _append(server, *names_or_bytes, folder="INBOX") -> None:
    conn = _client(server)
    try:
        for item in names_or_bytes:
            raw = item if isinstance(item, bytes) else (CORPUS / item).read_bytes()
            raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            typ, data = conn.append(folder, None, None, raw)
            assert typ == "OK", data
    finally:
        conn.logout()


def _uids(server, criterion: str, folder="INBOX") -> list[bytes]:
    conn = _client(server)
    try:
        conn.select(folder)
        typ, data = conn.uid("SEARCH", None, criterion)
        return (data[0] or b"").split()
    finally:
        conn.logout()


def _box(workspace, server, **kw):
    return imap.add_mailbox(
        workspace=workspace,
        actor=None,
        host="127.0.0.1",
        port=kw.pop("port", server.imap_port),
        username=USER,
        password=kw.pop("password", PASSWORD),
        security=kw.pop("security", Security.STARTTLS),
        **kw,
    )


def _msg(n: int) -> bytes:
    return (
        f"From: Customer {n} <c{n}@example.com>\r\nTo: help@brand.example\r\n"
        f"Subject: Question {n}\r\nMessage-ID: <imap-{n}@example.com>\r\n\r\n"
        f"Question number {n}?\r\n"
    ).encode()


def test_poll_ingests_unseen_mail_then_marks_it_seen(workspace, dovecot):  # noqa: F811
    _append(dovecot, "01-outlook-reply.eml", "04-html-only.eml", "16-malformed-no-from.eml")
    box = _box(workspace, dovecot)
    result = imap.poll_mailbox(box, context=_context(dovecot))
    assert (result.fetched, result.ingested, result.quarantined, result.error) == (3, 2, 1, "")
    assert TimelineEntry.objects.filter(workspace=workspace, kind="customer_message").count() == 2
    q = QuarantinedEmail.objects.get()
    assert (q.source, q.reason, q.workspace_id) == ("imap", "unparseable", workspace.pk)
    assert _uids(dovecot, "UNSEEN") == [] and len(_uids(dovecot, "SEEN")) == 3
    # Nothing new: a second poll fetches nothing.
    assert imap.poll_mailbox(box, context=_context(dovecot)).fetched == 0


def test_crash_mid_batch_neither_loses_nor_duplicates(workspace, dovecot):  # noqa: F811
    _append(dovecot, *[_msg(n) for n in range(1, 6)])
    box = _box(workspace, dovecot)
    calls = []

    def crash_after_second_commit(raw: bytes) -> None:
        calls.append(raw)
        if len(calls) == 2:
            raise KeyboardInterrupt("worker killed")  # not caught by the poller

    with pytest.raises(KeyboardInterrupt):
        imap.poll_mailbox(box, context=_context(dovecot), after_receive=crash_after_second_commit)
    # Message 2 is committed but was never marked seen; 3–5 were never fetched.
    assert (
        TimelineEntry.objects.filter(workspace=workspace).filter(kind="customer_message").count()
        == 2
    )
    assert len(_uids(dovecot, "UNSEEN")) == 4
    result = imap.poll_mailbox(box, context=_context(dovecot))
    assert (result.fetched, result.duplicates, result.ingested) == (4, 1, 3)
    ids = sorted(
        TimelineEntry.objects.filter(workspace=workspace, kind="customer_message").values_list(
            "external_id", flat=True
        )
    )
    assert ids == [f"imap-{n}@example.com" for n in range(1, 6)]
    assert _uids(dovecot, "UNSEEN") == []


def test_move_to_folder_over_implicit_tls(workspace, dovecot):  # noqa: F811
    conn = _client(dovecot)
    conn.create("Processed")
    conn.logout()
    _append(dovecot, _msg(1), _msg(2))
    box = _box(workspace, dovecot, port=dovecot.imaps_port, security=Security.TLS,
               move_to="Processed")  # fmt: skip
    result = imap.poll_mailbox(box, context=_context(dovecot))
    assert (result.ingested, result.error) == (2, "")
    assert _uids(dovecot, "ALL") == []
    assert len(_uids(dovecot, "ALL", folder="Processed")) == 2


def test_bad_login_is_reported_and_loses_nothing(workspace, dovecot):  # noqa: F811
    _append(dovecot, _msg(1))
    box = _box(workspace, dovecot, password="wrong")
    result = imap.poll_mailbox(box, context=_context(dovecot))
    assert result.fetched == 0 and "AUTHENTICATIONFAILED" in result.error.upper()
    box.refresh_from_db()
    assert box.last_error == result.error and box.last_polled_at is not None
    assert len(_uids(dovecot, "UNSEEN")) == 1


def test_untrusted_certificate_is_refused(workspace, dovecot):  # noqa: F811
    box = _box(workspace, dovecot, port=dovecot.imaps_port, security=Security.TLS)
    result = imap.poll_mailbox(box)  # the system trust store does not know the test CA
    assert "CERTIFICATE_VERIFY_FAILED" in result.error


def test_plain_imap_only_to_loopback(workspace):
    with pytest.raises(InvalidInput) as caught:
        imap.add_mailbox(
            workspace=workspace, actor=None, host="imap.brand.example", username="u",
            password="p", security=Security.PLAIN,
        )  # fmt: skip
    assert caught.value.field == "security"


def test_plain_imap_on_loopback(workspace, dovecot):  # noqa: F811
    _append(dovecot, _msg(7))
    box = _box(workspace, dovecot, security=Security.PLAIN)
    assert imap.poll_mailbox(box).ingested == 1
