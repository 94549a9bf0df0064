"""parse_email beyond the corpus: limits, charsets, dates, robustness."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from warmline.channels.email import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    MalformedEmail,
    html_to_text,
    parse_email,
    sanitize_html,
)
from warmline.channels.email.charsets import decode_bytes

CORPUS = Path(__file__).parent / "corpus"


def _message(body: str = "Hello") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Jane Doe <jane@example.com>"
    msg["To"] = "help@brand.example"
    msg["Subject"] = "Files"
    msg["Date"] = "Tue, 03 Mar 2026 10:00:00 +0000"
    msg.set_content(body)
    return msg


def _huge_message(size: int) -> bytes:
    """Built by hand: base64 of a repeated block is much cheaper than EmailMessage's encoder."""
    block = base64.b64encode(bytes(range(256)) * 3).decode()  # 1024 chars, no padding
    per_line = 76
    body_len = (size // 3) * 4
    encoded = (block * (body_len // len(block) + 1))[:body_len]
    lines = "\n".join(encoded[i : i + per_line] for i in range(0, len(encoded), per_line))
    return (
        "From: Jane <jane@example.com>\nTo: help@brand.example\nSubject: scan\n"
        "Date: Tue, 3 Mar 2026 10:00:00 +0000\n"
        'Content-Type: multipart/mixed; boundary="b1"\n\n'
        "--b1\nContent-Type: text/plain; charset=utf-8\n\nThe scan is attached.\n"
        '--b1\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="scan.pdf"\n'
        f"Content-Transfer-Encoding: base64\n\n{lines}\n"
        '--b1\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename="small.jpg"\n'
        "Content-Transfer-Encoding: base64\n\n/9j/4AAQSkZJRg==\n--b1--\n"
    ).encode()


def test_huge_attachment_is_rejected_with_its_size_and_the_rest_is_kept():
    size = DEFAULT_MAX_ATTACHMENT_BYTES + 1024 * 1024
    parsed = parse_email(_huge_message(size))
    assert parsed.new_text == "The scan is attached."
    assert [(r.filename, r.reason) for r in parsed.rejected_attachments] == [
        ("scan.pdf", "too_large")
    ]
    assert abs(parsed.rejected_attachments[0].size - size) < 3
    assert [(a.filename, a.size) for a in parsed.attachments] == [("small.jpg", 10)]


def test_attachment_at_the_limit_is_kept_and_one_byte_over_is_rejected():
    msg = _message()
    msg.add_attachment(b"x" * 1000, maintype="application", subtype="pdf", filename="a.pdf")
    msg.add_attachment(b"x" * 1001, maintype="application", subtype="pdf", filename="b.pdf")
    parsed = parse_email(msg.as_bytes(), max_attachment_bytes=1000)
    assert [a.filename for a in parsed.attachments] == ["a.pdf"]
    assert [(r.filename, r.size, r.reason) for r in parsed.rejected_attachments] == [
        ("b.pdf", 1001, "too_large")
    ]


def test_allowed_types_restrict_and_octet_stream_is_judged_by_its_name():
    msg = _message()
    msg.add_attachment(
        b"%PDF-1.4", maintype="application", subtype="octet-stream", filename="x.pdf"
    )
    msg.add_attachment(b"GIF89a", maintype="image", subtype="gif", filename="y.gif")
    msg.add_attachment(b"<svg/>", maintype="image", subtype="svg+xml", filename="z.svg")
    msg.add_attachment(b"\x00", maintype="application", subtype="x-unknown", filename="w.bin")
    parsed = parse_email(msg.as_bytes())
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("x.pdf", "application/pdf"),
        ("y.gif", "image/gif"),
    ]
    assert {r.filename: r.reason for r in parsed.rejected_attachments} == {
        "z.svg": "blocked_extension",
        "w.bin": "type_not_allowed",
    }
    only_images = parse_email(msg.as_bytes(), allowed_types=["image/*"])
    assert [a.filename for a in only_images.attachments] == ["y.gif"]


def test_attachment_count_limit():
    msg = _message()
    for i in range(4):
        msg.add_attachment(b"data", maintype="text", subtype="plain", filename=f"{i}.txt")
    parsed = parse_email(msg.as_bytes(), max_attachments=3)
    assert len(parsed.attachments) == 3
    assert [r.reason for r in parsed.rejected_attachments] == ["too_many_attachments"]


def test_attachment_filenames_lose_paths_and_control_characters():
    msg = _message()
    msg.add_attachment(
        b"x", maintype="text", subtype="plain", filename="..\\..\\etc/pass\x07wd.txt"
    )
    assert parse_email(msg.as_bytes()).attachments[0].filename == "passwd.txt"


@pytest.mark.parametrize(
    ("data", "label", "expected"),
    [
        ("año".encode("latin-1"), "iso-8859-1", "año"),
        ("“quoted” €5".encode("cp1252"), "iso-8859-1", "“quoted” €5"),  # mislabelled Windows-1252
        ("año".encode(), "iso-8859-1", "año"),  # UTF-8 labelled Latin-1
        ("año".encode("latin-1"), "utf-8", "año"),  # Latin-1 labelled UTF-8
        ("año".encode(), None, "año"),
        ("año".encode("latin-1"), "x-no-such-charset", "año"),
        ("日本".encode("shift_jis"), "shift_jis", "日本"),
        ("日本".encode("euc-jp"), "EUC-JP", "日本"),
    ],
)
def test_decode_bytes_fits_the_text_whatever_the_label(data, label, expected):
    assert decode_bytes(data, label)[0] == expected


def test_undecodable_bytes_become_replacement_characters_never_an_exception():
    text, defect = decode_bytes(b"ok \x81\x8d end", "utf-8")
    assert text == "ok \ufffd\ufffd end"
    assert defect
    text, defect = decode_bytes(b"\x82\xa0\xff\xff", "shift_jis")
    assert "\ufffd" in text and defect


def test_raw_8bit_latin1_header_is_decoded():
    raw = b"From: Ren\xe9 <rene@example.fr>\nTo: help@brand.example\nSubject: caf\xe9\n\nHi\n"
    parsed = parse_email(raw)
    assert parsed.from_name == "René"
    assert parsed.subject == "café"


def test_missing_date_falls_back_to_received_and_is_utc():
    raw = (
        b"Received: from x by mx.brand.example; Tue, 3 Mar 2026 12:00:00 +0200\n"
        b"From: jane@example.com\nTo: help@brand.example\nSubject: s\n\nbody\n"
    )
    parsed = parse_email(raw)
    assert parsed.date == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert any("Date" in d for d in parsed.defects)


def test_date_with_unknown_zone_is_taken_as_utc():
    raw = b"From: jane@example.com\nDate: Tue, 3 Mar 2026 12:00:00 -0000\n\nbody\n"
    assert parse_email(raw).date == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


def test_no_date_anywhere_gives_none():
    assert parse_email(b"From: jane@example.com\n\nbody\n").date is None


def test_sender_header_stands_in_for_a_missing_from():
    parsed = parse_email(b"Sender: Bot <bot@example.com>\nSubject: x\n\nbody\n")
    assert parsed.from_email == "bot@example.com"
    assert any("Sender" in d for d in parsed.defects)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"   \r\n  ", "empty message"),
        (b"To: help@brand.example\n\nno sender", "no From address"),
        (b"From: not an address\n\nbody", "no From address"),
    ],
)
def test_nothing_usable_raises_malformed(raw, reason):
    with pytest.raises(MalformedEmail) as caught:
        parse_email(raw)
    assert caught.value.reason == reason


def test_mangled_corpus_never_raises_anything_but_malformed():
    """Truncated, spliced and byte-flipped corpus files: parse or MalformedEmail, nothing else.

    Punctuation is favoured because it is what breaks header grammars (the stdlib's
    structured header parser raises IndexError on some of these).
    """
    rng = random.Random(20260306)
    files = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    special = [ord(c) for c in ':<>=?-;"@\n']
    outcomes = {"parsed": 0, "malformed": 0}
    for _ in range(600):
        data = bytearray(rng.choice(files))
        mode = rng.random()
        if mode < 0.3:
            data = data[: rng.randrange(1, len(data))]
        elif mode > 0.6:
            at, source = rng.randrange(len(data)), rng.randrange(len(data))
            data[at:at] = data[source : source + rng.randrange(200)]
        for _ in range(rng.randrange(0, 40)):
            byte = rng.choice(special) if rng.random() < 0.5 else rng.randrange(256)
            data[rng.randrange(len(data))] = byte
        try:
            parsed = parse_email(bytes(data))
        except MalformedEmail:
            outcomes["malformed"] += 1
        else:
            outcomes["parsed"] += 1
            stored = [parsed.text, parsed.new_text, parsed.subject, parsed.from_name, parsed.html]
            stored += parsed.to + [a.filename for a in parsed.attachments]
            "".join(stored).encode("utf-8")
    assert outcomes["parsed"] > outcomes["malformed"] > 0


def test_thread_ids_put_in_reply_to_first_then_newest_reference():
    raw = (
        b"From: jane@example.com\nMessage-ID: <m3@x>\nIn-Reply-To: <m2@x>\n"
        b"References: <m1@x> <m2@x>\n\nbody\n"
    )
    parsed = parse_email(raw)
    assert parsed.message_id == "m3@x"
    assert parsed.thread_ids == ["m2@x", "m1@x"]


def test_envelope_recipient_token_wins_over_headers():
    raw = b"From: jane@example.com\nTo: help+r-fromheader@brand.example\n\nbody\n"
    parsed = parse_email(raw, envelope_recipients=["help+r-fromenvelope@brand.example"])
    assert parsed.reply_token == "fromenvelope"


def test_html_to_text_blocks_lists_and_quotes():
    rendered = html_to_text(
        "<p>One&nbsp;&amp;&#32;two</p><ol><li>a</li><li>b</li></ol>"
        "<pre>  keep\n    spacing</pre><blockquote>q1<blockquote>q2</blockquote></blockquote>"
        "<script>x()</script><style>p{}</style>"
    )
    assert rendered.text == "One & two\n\n1. a\n2. b\n\n  keep\n    spacing\n\n> q1\n> > q2"
    assert rendered.quote_start is None


def test_html_to_text_marks_where_the_gmail_quote_starts():
    rendered = html_to_text(
        '<div>New</div><div class="gmail_quote">On x wrote:<blockquote>old</blockquote></div>'
    )
    assert rendered.text[: rendered.quote_start].strip() == "New"
    assert rendered.text[rendered.quote_start :].startswith("On x wrote:")


def test_sanitize_keeps_cid_images_and_remote_ones_only_when_asked():
    html = '<img src="cid:a@b"><img src="https://cdn.example/p.png"><img src="http://x/p.png">'
    assert sanitize_html(html) == '<img src="cid:a@b"><img><img>'
    assert sanitize_html(html, allow_remote_images=True) == (
        '<img src="cid:a@b"><img src="https://cdn.example/p.png"><img>'
    )


def test_sanitize_strips_event_handlers_and_script_urls():
    cleaned = sanitize_html(
        '<a href="JaVaScRiPt:alert(1)" onmouseover="x()">a</a><b onclick="y()">b</b>'
        '<a href="vbscript:msgbox">c</a><math><mi>x</mi></math>'
    )
    assert cleaned == (
        '<a rel="noopener noreferrer nofollow">a</a><b>b</b>'
        '<a rel="noopener noreferrer nofollow">c</a>'
    )
