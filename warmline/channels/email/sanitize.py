"""Inbound HTML made safe to show (nh3) and turned into plain text.

Stored XSS from customer email is the classic helpdesk hole, so HTML that came
from outside is only ever kept in its sanitised form. The text conversion runs
on the original markup (it never renders anything) and notes where a mail
client's quoted history starts, so HTML-only replies can be split like plain
ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
        "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small",
        "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "ol": {"start"},
    "font": {"color"},
    "*": {"dir", "lang"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})
# Removed with their content, not just unwrapped.
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "title", "noscript", "template", "iframe", "object", "svg", "math"}
)
# Kept so the agent UI can fold the quoted history away.
QUOTE_CLASSES = {"div": {"gmail_quote"}, "blockquote": {"gmail_quote"}}
LINK_REL = "noopener noreferrer nofollow"


def sanitize_html(html: str, *, allow_remote_images: bool = False) -> str:
    """Return ``html`` reduced to basic formatting and safe links.

    Remote images are dropped by default: loading them from the agent's browser
    tells the sender (or a tracker) when and where the mail was read. ``cid:``
    images (attachments of the same mail) always stay.
    """

    def keep_attribute(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            lowered = value.strip().lower()
            if lowered.startswith("cid:"):
                return value
            return value if allow_remote_images and lowered.startswith("https:") else None
        return value

    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=keep_attribute,
        url_schemes=set(URL_SCHEMES),
        allowed_classes={tag: set(names) for tag, names in QUOTE_CLASSES.items()},
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()


# --- HTML to text -------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
        "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_SKIPPED_TAGS = frozenset(
    {"script", "style", "head", "title", "noscript", "template", "svg", "iframe", "object"}
)
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"})
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix")
_QUOTE_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")
_SPACE_RE = re.compile(r"[ \t\r\n\f\v\u00a0]+")


@dataclass(frozen=True, slots=True)
class HtmlText:
    """Plain text of an HTML body and the offset where the client's quote block starts."""

    text: str
    quote_start: int | None


def html_to_text(html: str) -> HtmlText:
    """Render ``html`` as plain text: blocks become lines, blockquotes ``> `` lines."""
    parser = _TextRenderer()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # pragma: no cover - html.parser is lenient
        pass
    return parser.result()


class _TextRenderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._current: list[str] = []
        self._line_depth = 0  # quote depth when the current line started
        self._quote_depth = 0
        self._skip_depth = 0
        self._pre_depth = 0
        self._list_stack: list[list[int]] = []  # [counter] per ol, [-1] per ul
        self._links: list[str | None] = []
        self._link_text: list[list[str]] = []
        self._quote_line: int | None = None

    # lines -----------------------------------------------------------------------
    def _newline(self, *, force: bool = False) -> None:
        line = "".join(self._current)
        if self._pre_depth == 0:
            line = line.strip()
        if line or force:
            prefix = "> " * self._line_depth
            self._lines.append((prefix + line).rstrip() if line else prefix.rstrip())
        self._current = []
        self._line_depth = self._quote_depth

    def _blank_line(self) -> None:
        self._newline()
        if self._lines and self._lines[-1].strip("> ") != "":
            self._lines.append(("> " * self._quote_depth).rstrip())

    def _emit(self, text: str) -> None:
        if not self._current:
            self._line_depth = self._quote_depth
        self._current.append(text)
        if self._link_text:
            self._link_text[-1].append(text)

    # parser callbacks ----------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            if tag not in _VOID_TAGS:
                self._skip_depth += 1
            return
        if self._skip_depth:
            return
        attributes = {k: (v or "") for k, v in attrs}
        if self._quote_line is None and _starts_quote(tag, attributes):
            self._newline()
            self._quote_line = len(self._lines)
        if tag == "br":
            self._newline(force=True)
        elif tag == "hr":
            self._newline()
            self._lines.append("-" * 20)
        elif tag == "img":
            alt = attributes.get("alt", "").strip()
            if alt:
                self._emit(f"[{alt}]")
        elif tag == "blockquote":
            self._newline()
            self._quote_depth += 1
            self._line_depth = self._quote_depth
        elif tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "ul", "ol"):
            self._blank_line()
            if tag == "pre":
                self._pre_depth += 1
            elif tag == "ol":
                start = attributes.get("start", "")
                self._list_stack.append([int(start) if start.isdigit() else 1])
            elif tag == "ul":
                self._list_stack.append([-1])
        elif tag == "li":
            self._newline()
            if self._list_stack and self._list_stack[-1][0] >= 0:
                self._emit(f"{self._list_stack[-1][0]}. ")
                self._list_stack[-1][0] += 1
            else:
                self._emit("- ")
        elif tag in ("td", "th"):
            if self._current and "".join(self._current).strip():
                self._emit("  ")
        elif tag == "a":
            self._links.append(attributes.get("href"))
            self._link_text.append([])
        elif tag in _BLOCK_TAGS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag == "blockquote":
            self._newline()
            self._quote_depth = max(0, self._quote_depth - 1)
            self._line_depth = self._quote_depth
        elif tag == "a" and self._links:
            href = (self._links.pop() or "").strip()
            shown = "".join(self._link_text.pop()).strip()
            target = href[7:] if href.lower().startswith("mailto:") else href
            if (
                href.lower().startswith(("http:", "https:", "mailto:"))
                and shown
                and target.rstrip("/") not in shown
            ):
                self._emit(f" <{target}>")
        elif tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "ul", "ol"):
            if tag == "pre":
                self._newline()  # flush while still inside <pre>, keeping its indentation
                self._pre_depth = max(0, self._pre_depth - 1)
            elif tag in ("ul", "ol") and self._list_stack:
                self._list_stack.pop()
            self._blank_line()
        elif tag in _BLOCK_TAGS:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            chunks = data.split("\n")
            for i, chunk in enumerate(chunks):
                if i:
                    self._newline(force=True)
                if chunk:
                    self._emit(chunk)
            return
        text = _SPACE_RE.sub(" ", data)
        if not self._current or "".join(self._current).endswith(" "):
            text = text.lstrip(" ")
        if text:
            self._emit(text)

    def result(self) -> HtmlText:
        self._newline()
        lines = self._lines
        # Collapse runs of blank lines and trim the ends, keeping the quote offset right.
        out: list[str] = []
        quote_start: int | None = None
        for index, line in enumerate(lines):
            if index == self._quote_line:
                quote_start = len(out)
            blank = not line.strip("> ")
            if blank and (not out or not out[-1].strip("> ")):
                continue
            out.append(line)
        if self._quote_line is not None and self._quote_line >= len(lines):
            quote_start = len(out)
        while out and not out[-1].strip("> "):
            out.pop()
        if quote_start is None:
            return HtmlText("\n".join(out), None)
        head = "\n".join(out[:quote_start]).rstrip()
        tail = "\n".join(out[quote_start:]).strip("\n")
        text = f"{head}\n\n{tail}" if head and tail else head or tail
        return HtmlText(text, len(head) + 2 if head and tail else (0 if not head else len(head)))


def _starts_quote(tag: str, attributes: dict[str, str]) -> bool:
    if tag == "blockquote" and attributes.get("type", "").lower() == "cite":
        return True
    if tag not in ("div", "blockquote"):
        return False
    classes = attributes.get("class", "").lower().split()
    if any(name in classes for name in _QUOTE_CLASSES):
        return True
    return attributes.get("id", "").lower() in _QUOTE_IDS
