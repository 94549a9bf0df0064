"""A real SMTP exchange (smtplib) with the inbound server on a loopback port.

The server stores mail in its own threads and database connections, so these
tests commit for real (``transactional_db``): what the test sees after ``250``
was committed by someone else.
"""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection

from tests.factories import WorkspaceFactory
from warmline.channels.email import services
from warmline.channels.email.smtpd import make_controller
from warmline.channels.models import EmailAddress, QuarantinedEmail
from warmline.conversations.models import TimelineEntry

from .sink import free_port

CORPUS = Path(__file__).parent / "corpus"
pytestmark = pytest.mark.django_db(transaction=True)


def crlf(name: str) -> bytes:
    """A corpus file as an MTA sends it: CRLF line ends (the files are stored with LF)."""
    return (CORPUS / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def brand():
    ws = WorkspaceFactory(slug="acme", name="Acme")
    call_command("channel", "add-email", "--workspace", "acme", "--address", "help@brand.example")
    return ws


@pytest.fixture
def server():
    port = free_port()
    controller = make_controller("127.0.0.1", port, max_bytes=200_000, workers=2)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
        controller.handler.close()


def test_mail_is_committed_before_250(brand, server):
    raw = crlf("02-gmail-reply.eml")
    with smtplib.SMTP("127.0.0.1", server, timeout=30) as smtp:
        refused = smtp.sendmail("sophie.martin@gmail.example", ["help@brand.example"], raw)
    assert refused == {}
    # 250 came back: the message is already committed (read here on another connection).
    entry = TimelineEntry.objects.get(workspace=brand, kind="customer_message")
    assert entry.text.startswith("Yes, that's the right address")
    assert entry.data["email"]["envelope_from"] == "sophie.martin@gmail.example"
    assert entry.data["email"]["recipients"] == ["help@brand.example"]


def test_unknown_recipient_is_refused_at_rcpt_with_550(brand, server):
    raw = crlf("02-gmail-reply.eml")
    with smtplib.SMTP("127.0.0.1", server, timeout=30) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            smtp.sendmail("a@example.com", ["nobody@brand.example"], raw)
        code, text = caught.value.recipients["nobody@brand.example"]
        assert code == 550 and b"5.1.1" in text
        # Mixed: the known recipient gets it, the unknown one is reported refused.
        refused = smtp.sendmail(
            "a@example.com", ["nobody@brand.example", "HELP+r-c1-x@brand.example"], raw
        )
    assert list(refused) == ["nobody@brand.example"]
    assert (
        TimelineEntry.objects.filter(workspace=brand).filter(kind="customer_message").count() == 1
    )


def test_size_limit_is_enforced(brand, server):
    head = b"From: a@example.com\r\nTo: help@brand.example\r\nSubject: big\r\n\r\n"
    big = head + (b"x" * 76 + b"\r\n") * 4000  # ~310 kB, over the 200 kB limit
    with smtplib.SMTP("127.0.0.1", server, timeout=30) as smtp:
        smtp.ehlo()
        assert int(smtp.esmtp_features["size"]) == 200_000
        # A client that declares the size is refused at MAIL FROM…
        with pytest.raises(smtplib.SMTPSenderRefused) as caught:
            smtp.sendmail("a@example.com", ["help@brand.example"], big)
        assert caught.value.smtp_code == 552
        smtp.rset()
        # …one that does not is refused after DATA.
        assert smtp.mail("a@example.com")[0] == 250
        assert smtp.rcpt("help@brand.example")[0] == 250
        code, _ = smtp.data(big)
        assert code == 552
    assert not TimelineEntry.objects.filter(workspace=brand).exists()


def test_storage_failure_answers_451_so_the_sender_retries(brand, server, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("database is unavailable")

    monkeypatch.setattr(services, "receive", down)
    raw = crlf("02-gmail-reply.eml")
    with smtplib.SMTP("127.0.0.1", server, timeout=30) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            smtp.sendmail("a@example.com", ["help@brand.example"], raw)
    assert caught.value.smtp_code == 451
    assert not TimelineEntry.objects.filter(workspace=brand).exists()


def test_malformed_mail_is_accepted_into_quarantine(brand, server):
    raw = crlf("16-malformed-no-from.eml")
    with smtplib.SMTP("127.0.0.1", server, timeout=30) as smtp:
        assert smtp.sendmail("a@example.com", ["help@brand.example"], raw) == {}
    q = QuarantinedEmail.objects.get()
    assert q.reason == "unparseable" and q.workspace_id == brand.pk and q.source == "smtp"
    assert q.eml.read() == raw


def test_threaded_conversation_over_smtp(brand, server):
    first = (
        b"From: Ana <ana@example.com>\r\nTo: help@brand.example\r\nSubject: Kettle\r\n"
        b"Message-ID: <k1@example.com>\r\n\r\nMy kettle leaks.\r\n"
    )
    reply = (
        b"From: Ana <ana@example.com>\r\nTo: help@brand.example\r\nSubject: Re: Kettle\r\n"
        b"Message-ID: <k2@example.com>\r\nIn-Reply-To: <k1@example.com>\r\n"
        b"References: <k1@example.com>\r\n\r\nStill leaking.\r\n"
    )
    with smtplib.SMTP("127.0.0.1", server, timeout=30) as smtp:
        smtp.sendmail("ana@example.com", ["help@brand.example"], first)
        smtp.sendmail("ana@example.com", ["help@brand.example"], reply)
        smtp.sendmail("ana@example.com", ["help@brand.example"], reply)  # MTA retry
    entries = TimelineEntry.objects.filter(workspace=brand, kind="customer_message")
    assert entries.count() == 2
    assert len({e.conversation_id for e in entries}) == 1


def test_warmline_smtpd_command_serves_in_the_foreground(brand):
    """``warmline smtpd --host 127.0.0.1 --port N``, as an operator runs it."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        url = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "WARMLINE_EMBEDDED_WORKER": "0"}
    env.pop("WARMLINE_TESTING", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "warmline", "smtpd", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stdout.read().decode()) from None
                time.sleep(0.2)
        with smtp:
            raw = (
                b"From: Ana <ana@example.com>\r\nTo: help@brand.example\r\nSubject: CLI\r\n"
                b"Message-ID: <cli1@example.com>\r\n\r\nSent to the command.\r\n"
            )
            assert smtp.sendmail("ana@example.com", ["help@brand.example"], raw) == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.sendmail("ana@example.com", ["other@brand.example"], raw)
        entry = TimelineEntry.objects.get(workspace=brand, external_id="cli1@example.com")
        assert entry.text == "Sent to the command."
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert EmailAddress.objects.filter(address="help@brand.example").exists()


def test_starttls_is_offered_with_a_certificate(brand, tmp_path):
    import ssl

    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(tmp_path / "k.pem"),
         "-out", str(tmp_path / "c.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = free_port()
    controller = make_controller(
        "127.0.0.1", port, cert=str(tmp_path / "c.pem"), key=str(tmp_path / "k.pem")
    )
    controller.start()
    try:
        context = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
        context.check_hostname = False
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls")
            smtp.starttls(context=context)
            smtp.ehlo()
            assert (
                smtp.sendmail("a@example.com", ["help@brand.example"], crlf("02-gmail-reply.eml"))
                == {}
            )
    finally:
        controller.stop()
        controller.handler.close()
    assert TimelineEntry.objects.filter(workspace=brand, kind="customer_message").count() == 1
