"""Separate what the customer just wrote from the history their mail client quoted.

Mail clients mark quoted history in a handful of ways; each rule below is one
client's habit (see docs/email.md). The cut is made at the first marker found,
so a false positive costs the tail of a message, never the head. The original
text is always kept by the caller, so nothing is lost if a rule misfires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

# "On Tue, 3 Mar 2026 at 09:12, Jane Doe <jane@example.com> wrote:" and kin, which Gmail and
# Apple Mail wrap over two or three lines.
_ATTRIBUTION_RES = (
    re.compile(r"^on\b.{0,300}\bwrote\s*:$", re.I | re.S),
    re.compile(r"^el\b.{0,300}\bescribi[óo]\s*:$", re.I | re.S),
    re.compile(r"^em\b.{0,300}\bescreveu\s*:$", re.I | re.S),
    re.compile(r"^le\b.{0,300}\ba [ée]crit\s*:$", re.I | re.S),
    re.compile(r"^am\b.{0,300}\bschrieb\b.{0,200}:$", re.I | re.S),
    re.compile(r"^.{1,200}<[^<>\s]+@[^<>\s]+>\s+(wrote|escribi[óo])\s*:$", re.I | re.S),
    # Gmail's numeric form: "2026-03-03 9:12 GMT+01:00 Jane Doe <jane@example.com>:"
    re.compile(r"^\d{4}-\d{1,2}-\d{1,2} .{0,200}<[^<>\s]+@[^<>\s]+>\s*:$", re.S),
)
_ATTRIBUTION_START_RE = re.compile(r"^(on|el|em|le|am|\d{4}-\d{1,2}-\d{1,2})\b|<\S+@\S+>", re.I)
_ORIGINAL_RE = re.compile(
    r"^-{2,}\s*(original message|mensaje original|message d'origine|"
    r"urspr[üu]ngliche nachricht|mensagem original)\s*-{2,}$",
    re.I,
)
_FORWARD_RE = re.compile(
    r"^(-{2,}\s*(forwarded message|mensaje reenviado|message transf[ée]r[ée]|"
    r"weitergeleitete nachricht|mensagem encaminhada)\s*-{2,}|"
    r"begin forwarded message:|inicio del mensaje reenviado:|comienzo del mensaje reenviado:)$",
    re.I,
)
_UNDERSCORES_RE = re.compile(r"^_{10,}$")
_HEADER_FROM_RE = re.compile(r"^\*?(from|de|von|van)\s*:\*?\s*(?P<value>\S.*)$", re.I)
_HEADER_DATE_RE = re.compile(
    r"^\*?(sent|date|enviado(?: el)?|fecha|gesendet|datum|envoy[ée]|data)\s*:\*?", re.I
)
_HEADER_ANY_RE = re.compile(
    r"^\*?(sent|date|to|cc|subject|enviado(?: el)?|fecha|para|asunto|gesendet|datum|an|"
    r"betreff|envoy[ée]|[àa]|objet|data|assunto)\s*:\*?",
    re.I,
)
_MAILTO_RE = re.compile(r"\[mailto:([^\]\s]+)\]", re.I)


@dataclass(frozen=True, slots=True)
class ReplySplit:
    """New text and quoted history of one message body."""

    new_text: str
    quoted_text: str
    forwarded_from_email: str | None = None
    forwarded_from_name: str | None = None
    forwarded_text: str = ""
    has_forward_marker: bool = False


def split_reply(text: str, *, forwarded: bool = False) -> ReplySplit:
    """Split ``text`` into the new part and the quoted history.

    When ``forwarded`` is true (or the body carries a forward marker) the
    forwarded message is content the sender means us to read, so it stays in
    ``new_text``; only history quoted *inside* it is cut.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first = _find_boundary(lines, 0)
    if first is None:
        return _split_quoted_lines(lines, 0)
    start, kind, end = first
    if kind == "forward" or (forwarded and kind in ("original", "header")):
        return _split_forward(lines, start, end)
    if kind == "attribution":
        rest = lines[end:]
        if _is_interleaved(rest):
            return _split_quoted_lines(lines, 0, skip=set(range(start, end)))
    return ReplySplit(_join(lines[:start]), _join(lines[start:]))


def _find_boundary(lines: list[str], begin: int) -> tuple[int, str, int] | None:
    """Return ``(first line, kind, line after the marker)`` of the first history marker."""
    count = len(lines)
    for i in range(begin, count):
        line = lines[i].strip()
        if not line or line.startswith(">"):
            continue
        if _FORWARD_RE.match(line):
            return i, "forward", i + 1
        if _ORIGINAL_RE.match(line):
            return i, "original", i + 1
        if _UNDERSCORES_RE.match(line):
            nxt = _next_nonblank(lines, i + 1)
            if nxt is not None and _is_header_block(lines, nxt):
                return i, "header", nxt
            continue
        if _HEADER_FROM_RE.match(line) and _is_header_block(lines, i):
            return i, "header", i
        if _ATTRIBUTION_START_RE.search(line):
            joined = line
            for span in range(1, 4):
                if any(rx.match(joined) for rx in _ATTRIBUTION_RES):
                    return i, "attribution", i + span
                if i + span >= count or not lines[i + span].strip():
                    break
                joined = f"{joined} {lines[i + span].strip()}"
                if len(joined) > 400:
                    break
    return None


def _is_header_block(lines: list[str], i: int) -> bool:
    """True when line ``i`` is ``From:`` followed by ``Sent:``/``Date:`` and another header."""
    if not _HEADER_FROM_RE.match(lines[i].strip()):
        return False
    headers = dated = 0
    for line in lines[i + 1 : i + 8]:
        stripped = line.strip()
        if not stripped:
            break
        if _HEADER_ANY_RE.match(stripped):
            headers += 1
            dated += bool(_HEADER_DATE_RE.match(stripped))
    return dated >= 1 and headers >= 2


def _is_interleaved(rest: list[str]) -> bool:
    """Bottom-posted or inline answers: quoted lines followed by the sender's own words."""
    seen_quote = False
    for line in rest:
        stripped = line.strip()
        if stripped.startswith(">"):
            seen_quote = True
        elif stripped and seen_quote:
            return True
    return False


def _split_quoted_lines(lines: list[str], begin: int, skip: set[int] | None = None) -> ReplySplit:
    """No attribution: ``>`` lines are history, everything else is new."""
    skip = skip or set()
    new: list[str] = []
    quoted: list[str] = []
    for index, line in enumerate(lines[begin:], start=begin):
        if index in skip or line.lstrip().startswith(">"):
            quoted.append(line)
        else:
            new.append(line)
    if not quoted:
        return ReplySplit(_join(lines), "")
    return ReplySplit(_join(_squeeze_blank(new)), _join(quoted))


def _split_forward(lines: list[str], start: int, body_start: int) -> ReplySplit:
    name, address = None, None
    header_end = body_start
    for j in range(body_start, min(len(lines), body_start + 12)):
        stripped = lines[j].strip()
        if not stripped:
            if name or address:
                header_end = j
                break
            continue
        match = _HEADER_FROM_RE.match(stripped)
        if match and name is None and address is None:
            name, address = _parse_from_value(match.group("value"))
        header_end = j + 1
    nxt = _find_boundary(lines, header_end)
    stop = nxt[0] if nxt else len(lines)
    quoted = _join(lines[stop:]) if nxt else ""
    return ReplySplit(
        new_text=_join(lines[:stop]),
        quoted_text=quoted,
        forwarded_from_email=address,
        forwarded_from_name=name,
        forwarded_text=_join(lines[start:stop]),
        has_forward_marker=True,
    )


def _parse_from_value(value: str) -> tuple[str | None, str | None]:
    value = value.strip().strip("*").strip()
    mailto = _MAILTO_RE.search(value)
    if mailto:
        name = _MAILTO_RE.sub("", value).strip().strip('"') or None
        return name, mailto.group(1).lower()
    pairs = getaddresses([value])
    if pairs:
        name, addr = pairs[0]
        if "@" in addr:
            return (name or None), addr.lower()
    return value or None, None


def _next_nonblank(lines: list[str], i: int) -> int | None:
    for j in range(i, min(len(lines), i + 3)):
        if lines[j].strip():
            return j
    return None


def _squeeze_blank(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if not line.strip() and out and not out[-1].strip():
            continue
        out.append(line)
    return out


def _join(lines: list[str]) -> str:
    return "\n".join(line.rstrip() for line in lines).strip("\n").strip()
