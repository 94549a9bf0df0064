"""/widget.js: one small plain-JavaScript file, public, cacheable, in the visitor's language."""

from __future__ import annotations

import json
import re

from django.test import Client


def _strings(body: str) -> dict:
    match = re.search(r"var T = (\{.*?\});", body)
    assert match, "the strings object is missing"
    return json.loads(match.group(1))


def test_widget_script_is_public_cacheable_and_small(db):
    resp = Client().get("/widget.js")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/javascript")
    assert resp["Access-Control-Allow-Origin"] == "*"
    assert resp["Cross-Origin-Resource-Policy"] == "cross-origin"
    body = resp.content.decode()
    assert len(resp.content) < 16_000
    assert "__WARMLINE_STRINGS__" not in body
    assert "/ws/widget/" in body and "localStorage" in body
    # No framework, no HTML built from server data.
    assert "import " not in body and "require(" not in body
    assert ".innerHTML = " not in body.replace("root.innerHTML =", "")
    assert _strings(body)["launcher"] == "Chat with us"
    again = Client().get("/widget.js", headers={"If-None-Match": resp["ETag"]})
    assert again.status_code == 304


def test_widget_strings_follow_the_visitors_language(db):
    resp = Client().get("/widget.js", headers={"Accept-Language": "es-ES,es;q=0.9"})
    strings = _strings(resp.content.decode())
    assert strings["launcher"] == "Chatea con nosotros"
    assert strings["offline"] == "No hay nadie disponible en este momento."
    assert resp["Vary"].count("Accept-Language") >= 1
