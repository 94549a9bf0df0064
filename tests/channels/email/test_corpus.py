"""Every .eml in corpus/ parses to the outcome written down for it in corpus/expected.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from warmline.channels.email import MalformedEmail, parse_email

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
EQUAL_FIELDS = (
    "message_id", "in_reply_to", "references", "subject", "from_email", "from_name", "to", "cc",
    "reply_to", "delivered_to", "auto_kind", "reply_token", "is_forwarded",
    "forwarded_from_email", "forwarded_from_name", "new_text", "quoted_text",
)  # fmt: skip


def test_every_corpus_file_has_an_expectation():
    files = {p.name for p in CORPUS.glob("*.eml")}
    assert len(files) >= 15
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message(name: str):
    expected = EXPECTED[name]
    raw = (CORPUS / name).read_bytes()
    if "error" in expected:
        with pytest.raises(MalformedEmail) as caught:
            parse_email(raw)
        assert caught.value.reason == expected["error"]
        return
    # "options" are the limits a workspace configured (e.g. a smaller attachment size).
    parsed = parse_email(raw, **expected.get("options", {}))

    for field in EQUAL_FIELDS:
        if field in expected:
            assert getattr(parsed, field) == expected[field], field
    if "date" in expected:
        assert parsed.date is not None and parsed.date.isoformat() == expected["date"]
    for field in ("text", "new_text", "quoted_text", "html"):
        for needle in expected.get(f"{field}_contains", ()):
            assert needle in getattr(parsed, field), (field, needle)
        for needle in expected.get(f"{field}_not_contains", ()):
            assert needle not in getattr(parsed, field), (field, needle)
    if "new_text_starts" in expected:
        assert parsed.new_text.startswith(expected["new_text_starts"])
    if "quoted_starts" in expected:
        assert parsed.quoted_text.startswith(expected["quoted_starts"])
    for needle in expected.get("auto_reasons_contain", ()):
        assert needle in parsed.auto_reasons
    if expected.get("no_replacement_char"):
        assert "\ufffd" not in parsed.text + parsed.subject + parsed.from_name
    if "defects" in expected:
        assert bool(parsed.defects) is expected["defects"], parsed.defects
    for needle in expected.get("defects_contain", ()):
        assert any(needle in d for d in parsed.defects), parsed.defects
    if "attachments" in expected:
        _check_attachments(parsed, expected["attachments"])
    if "rejected" in expected:
        got = [[r.filename, r.reason] for r in parsed.rejected_attachments]
        assert got == expected["rejected"]
    if "bounce" in expected:
        _check_bounce(parsed, expected["bounce"])
    # Whatever the message, what comes out is storable text.
    for value in (parsed.text, parsed.new_text, parsed.subject, parsed.from_name, parsed.html):
        value.encode("utf-8")


def _check_attachments(parsed, expected: list[dict]) -> None:
    assert len(parsed.attachments) == len(expected)
    for got, want in zip(parsed.attachments, expected, strict=True):
        for key in ("filename", "content_type", "size", "inline", "content_id"):
            if key in want:
                assert getattr(got, key) == want[key], key
        assert got.size == len(got.content)
        if "starts_with_hex" in want:
            assert got.content.hex().startswith(want["starts_with_hex"])
        if "contains" in want:
            assert want["contains"].encode() in got.content


def _check_bounce(parsed, want: dict) -> None:
    bounce = parsed.bounce
    assert bounce is not None
    assert bounce.failed_recipient == want["failed_recipient"]
    assert bounce.status == want["status"]
    assert bounce.recipients[0].action == want["action"]
    assert bounce.permanent is want["permanent"]
    assert bounce.reporting_mta == want["reporting_mta"]
    assert bounce.recipients[0].remote_mta == want["remote_mta"]
    assert bounce.original_message_id == want["original_message_id"]
    assert bounce.original_subject == want["original_subject"]
    assert want["diagnostic_contains"] in bounce.recipients[0].diagnostic
