"""Turn a MIME part's bytes into text whatever its charset label claims.

Mail in the wild mislabels charsets all the time (Latin-1 text labelled
UTF-8, Windows-1252 quotes labelled ISO-8859-1, no label at all). Decoding
never raises: it falls back step by step and, at the last step, replaces
what it cannot read with U+FFFD.
"""

from __future__ import annotations

import codecs

# WHATWG's rule: a Latin-1 or ASCII label means Windows-1252, which agrees on every
# printable byte and also has the curly quotes and euro sign those labels lose.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
}


def normalise_charset(label: str | None) -> str | None:
    """Return a Python codec name for ``label``, or ``None`` if it names no known codec."""
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def repair_header(value: str) -> str:
    """Decode raw 8-bit bytes the stdlib left in a header as surrogate escapes.

    RFC 5322 headers are ASCII, but plenty of mailers put UTF-8 (or Latin-1)
    straight into ``From:``; the parser keeps those bytes as lone surrogates,
    which cannot even be stored in a database.
    """
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"), None)[0]


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode ``data`` and return ``(text, defect)``; ``defect`` says what went wrong, if anything.

    For missing, UTF-8 and single-byte Latin labels: UTF-8 strictly first (real
    Latin-1 text is almost never valid UTF-8, while UTF-8 labelled Latin-1 is
    common), then Windows-1252. For any other known label: that charset
    strictly, then UTF-8, then that charset with replacement characters.
    """
    declared = normalise_charset(label)
    if declared is None or declared in ("utf-8", "cp1252"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if declared == "cp1252" and not data.isascii():
                return text, _mismatch(label, "utf-8")
            return text, None if declared or not label else _unknown(label, "utf-8")
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("cp1252", "replace"), _mismatch(
                label, "windows-1252, bytes replaced"
            )
        return text, None if declared == "cp1252" else _mismatch(label, "windows-1252")
    try:
        return data.decode(declared), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("utf-8"), _mismatch(label, "utf-8")
    except UnicodeDecodeError:
        return data.decode(declared, "replace"), f"charset {label}: undecodable bytes replaced"


def _unknown(label: str, used: str) -> str:
    return f"unknown charset {label}; decoded as {used}"


def _mismatch(label: str | None, used: str) -> str:
    if not label:
        return f"no charset declared; decoded as {used}"
    return f"charset {label} did not fit the bytes; decoded as {used}"
