"""The agent's conversation page in a real chromium records active work time."""

from __future__ import annotations

import time

import pytest

from tests.web.test_browser import CHROMIUM, _sign_in, asgi_server, browser, scene  # noqa: F401
from warmline.insights.models import WorkSession

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent"),
]


def _session(member, conv, timeout=10.0, at_least=0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = WorkSession.objects.filter(member=member, conversation=conv).first()
        if found is not None and found.active_seconds >= at_least:
            return found
        time.sleep(0.2)
    raise AssertionError("no work session with the expected time was recorded")


def test_open_conversation_page_records_server_measured_work(asgi_server, browser, scene):  # noqa: F811
    agent, _, conv = scene
    ctx, page = _sign_in(browser, asgi_server, agent.user.username)
    try:
        page.goto(f"{asgi_server}/c/{conv.number}/")
        first = _session(agent, conv)  # opened by the page's first ping
        assert first.active_seconds == 0 and first.channel == conv.channel
        # The next ping comes 15 s later while the page is visible and was used.
        page.mouse.move(10, 10)
        later = _session(agent, conv, timeout=25, at_least=10)
        # The server's clock: never more than the time the page was open.
        wall = (later.ended_at - first.started_at).total_seconds()
        assert later.pk == first.pk and 10 <= later.active_seconds <= wall
        # One page, one session, even if its socket reconnected meanwhile.
        assert WorkSession.objects.filter(member=agent).count() == 1
    finally:
        ctx.close()
