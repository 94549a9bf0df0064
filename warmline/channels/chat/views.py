"""``/widget.js``: the embeddable chat widget, with its strings in the visitor's language."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

SOURCE = Path(__file__).parent / "static" / "warmline" / "widget.js"


def _strings() -> dict[str, str]:
    return {
        "launcher": _("Chat with us"),
        "title": _("How can we help?"),
        "send": _("Send"),
        "save": _("Save"),
        "placeholder": _("Type your message…"),
        "email_placeholder": _("you@example.com"),
        "email_ask": _("Leave your email so we can reply if you go."),
        "offline": _("No one is available right now."),
        "offline_email": _(
            "No one is available right now. Leave your email and we will reply by email."
        ),
        "email_thanks": _("Thanks, we will reply by email if you are gone."),
        "connecting": _("Connecting…"),
        "refused": _("Chat is not available on this site."),
        "too_long": _("That message is too long."),
        "error": _("Something went wrong; please try again."),
    }


@lru_cache(maxsize=16)
def _render(language: str) -> tuple[str, str]:
    with translation.override(language):
        strings = json.dumps(_strings(), ensure_ascii=False)
    body = SOURCE.read_text(encoding="utf-8").replace("__WARMLINE_STRINGS__", strings)
    return body, hashlib.sha256(body.encode()).hexdigest()[:16]


@require_GET
def widget_js(request: HttpRequest) -> HttpResponse:
    """Public and cacheable; any site may load it (the socket checks the origin)."""
    body, etag = _render(translation.get_language() or "en")
    if request.headers.get("If-None-Match") == f'"{etag}"':
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["ETag"] = f'"{etag}"'
    response["Cache-Control"] = "public, max-age=300"
    response["Vary"] = "Accept-Language"
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
