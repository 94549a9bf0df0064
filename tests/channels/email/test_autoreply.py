"""Mail no person wrote is recognised from its headers (and, for out-of-office, its subject)."""

import pytest

from warmline.channels.email import parse_email


def _mail(headers: str = "", subject: str = "Question", sender: str = "jane@example.com") -> bytes:
    return (
        f"From: Jane <{sender}>\nTo: help@brand.example\nSubject: {subject}\n"
        f"Date: Tue, 3 Mar 2026 10:00:00 +0000\n{headers}"
        "Content-Type: text/plain; charset=utf-8\n\nHello\n"
    ).encode()


@pytest.mark.parametrize(
    ("headers", "subject", "kind"),
    [
        ("", "Question", None),
        ("Auto-Submitted: no\n", "Question", None),
        ("Auto-Submitted: auto-generated\n", "Your ticket", "auto_reply"),
        ("Auto-Submitted: auto-replied\n", "Ausente hasta el lunes", "out_of_office"),
        ("X-Autoreply: yes\n", "Re: Question", "auto_reply"),
        ("X-Autorespond: yes\n", "Thanks", "auto_reply"),
        ("X-Auto-Response-Suppress: All\n", "Automatic reply: Question", "out_of_office"),
        ("X-Auto-Response-Suppress: OOF\n", "Meeting", "auto_reply"),
        ("Precedence: auto_reply\n", "Thanks", "auto_reply"),
        ("Precedence: bulk\n", "Newsletter", "list"),
        ("Precedence: junk\n", "Offer", "list"),
        ("List-Id: <news.example.com>\n", "Digest", "list"),
        ("", "Out of Office: Question", "out_of_office"),
        ("", "Fuera de la oficina", "out_of_office"),
        ("", "Respuesta automática: Pedido", "out_of_office"),
        ("", "Auto-Reply: Question", "auto_reply"),
        # A person writing about an absence is not an autoresponder.
        ("", "Ausencia de respuesta a mi reclamación", None),
        ("", "Re: Out of office chairs", None),
    ],
)
def test_auto_kind(headers, subject, kind):
    assert parse_email(_mail(headers, subject)).auto_kind == kind


def test_bounce_without_a_report_part_from_the_mailer_daemon():
    raw = _mail(
        "X-Failed-Recipients: gone@example.org\n",
        "Mail delivery failed: returning message to sender",
        sender="MAILER-DAEMON@mx.example.net",
    )
    parsed = parse_email(raw)
    assert parsed.auto_kind == "bounce"
    assert parsed.bounce is not None and parsed.bounce.failed_recipient == "gone@example.org"


def test_read_receipt_is_an_automatic_reply():
    raw = (
        b"From: Jane <jane@example.com>\nTo: help@brand.example\nSubject: Read: Your order\n"
        b"Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nYour message was read.\n"
        b"--b\nContent-Type: message/disposition-notification\n\n"
        b"Final-Recipient: rfc822; jane@example.com\nDisposition: manual-action/MDN-sent-manually; displayed\n"
        b"--b--\n"
    )
    parsed = parse_email(raw)
    assert parsed.auto_kind == "auto_reply"
    assert parsed.is_automatic
    assert parsed.attachments == []
