"""The widget in a real browser, embedded on another site, talking to a real agent.

Real parts: Debian's chromium (Playwright), uvicorn serving the ASGI application
on a loopback port, and a second loopback HTTP server for the brand's own page.
Chromium maps ``shop.test`` and ``evil.test`` to 127.0.0.1, so the page really
is a different origin from Warmline and the socket's origin check is real.
"""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, asgi_server
from tests.factories import MemberFactory
from warmline.conversations.models import Conversation

PASSWORD = "correct horse battery"
EVIL = '<img src=x onerror="window.pwned=1">'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent"),
]


@pytest.fixture(scope="module")
def warmline_server(django_db_setup, django_db_blocker):
    with asgi_server(django_db_blocker) as url:
        yield url
    with django_db_blocker.unblock():
        _drop_server_connections()


def _drop_server_connections() -> None:
    """The stopped server's threads may leave idle PostgreSQL sessions behind, which
    would keep the test database from being dropped at the end of the run."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(scope="module")
def brand_site(warmline_server):
    """The brand's own web page, embedding the widget exactly as the docs say."""
    state = {"slug": ""}

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server hook name)
            html = (
                "<!doctype html><html><head><title>Shop</title></head><body>"
                "<h1>Brand shop</h1>"
                f'<script src="{warmline_server}/widget.js" data-workspace="{state["slug"]}"'
                " async></script></body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                "--host-resolver-rules=MAP shop.test 127.0.0.1, MAP evil.test 127.0.0.1",
            ],
        )
        yield b
        b.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def brand(transactional_db, workspace, brand_site):
    port, state = brand_site
    state["slug"] = workspace.slug
    workspace.settings = {"chat": {"allowed_origins": [f"http://shop.test:{port}"]}}
    workspace.save()
    agent = MemberFactory(workspace=workspace, display_name="Ana Agent", availability="online")
    return workspace, agent, port


def _sign_in(browser, base: str, username: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    return context, page


def _wait_for_conversation(workspace, timeout=10.0) -> Conversation:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conv = Conversation.objects.filter(workspace=workspace, channel="chat").first()
        if conv is not None:
            return conv
        time.sleep(0.1)
    raise AssertionError("the visitor's message never became a conversation")


def test_visitor_and_agent_talk_live_and_the_transcript_survives_a_reload(
    warmline_server, browser, brand
):
    workspace, agent, port = brand
    ctx_agent, agent_page = _sign_in(browser, warmline_server, agent.user.username)
    ctx_visitor = browser.new_context()
    visitor = ctx_visitor.new_page()
    try:
        agent_page.goto(warmline_server + "/?view=all")
        visitor.goto(f"http://shop.test:{port}/")
        visitor.click("[data-wl=launcher]")
        visitor.wait_for_selector("[data-wl=status]:text-is('')", state="attached")
        visitor.fill("[data-wl=input]", f"Hello, my order is late {EVIL}")
        visitor.click("[data-wl=send]")
        visitor.wait_for_selector(".b.v[data-id]", timeout=10_000)  # acknowledged

        # The new case appears live in the agent's inbox, then the agent opens it.
        conv = _wait_for_conversation(workspace)
        agent_page.wait_for_selector(f"tr[data-number='{conv.number}']", timeout=10_000)
        agent_page.goto(f"{warmline_server}/c/{conv.number}/")
        assert "Hello, my order is late" in agent_page.inner_text("#timeline")

        # A second visitor message arrives live in the open conversation view.
        visitor.fill("[data-wl=input]", "Order number NW-2231")
        visitor.press("[data-wl=input]", "Enter")
        agent_page.wait_for_selector("#timeline :text('Order number NW-2231')", timeout=10_000)

        # The agent's reply arrives live in the widget.
        agent_page.fill("#reply-text", "Hi! I can see NW-2231, it ships today.")
        agent_page.click("button.primary:has-text('Send')")
        visitor.wait_for_selector(".b.a:has-text('it ships today')", timeout=10_000)
        assert "Ana" in visitor.inner_text(".b.a")

        # A page load later the transcript is still there (signed token in localStorage).
        token = visitor.evaluate(f"() => localStorage.getItem('warmline.chat.{workspace.slug}')")
        assert '"token"' in token
        visitor.reload()
        visitor.click("[data-wl=launcher]")
        visitor.wait_for_selector(".b.a:has-text('it ships today')", timeout=10_000)
        texts = visitor.locator("[data-wl=messages] .b").all_inner_texts()
        assert [t.split("\n")[-1] for t in texts] == [
            f"Hello, my order is late {EVIL}",
            "Order number NW-2231",
            "Hi! I can see NW-2231, it ships today.",
        ]
        # Customer text is shown as text on both sides, never run.
        assert not visitor.evaluate("() => window.pwned === 1")
        assert not agent_page.evaluate("() => window.pwned === 1")
    finally:
        ctx_agent.close()
        ctx_visitor.close()


def test_widget_on_a_site_the_brand_did_not_allow_says_so(warmline_server, browser, brand):
    workspace, _, port = brand
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"http://evil.test:{port}/")
        page.click("[data-wl=launcher]")
        page.wait_for_selector(
            "[data-wl=status]:has-text('not available on this site')", timeout=10_000
        )
    finally:
        ctx.close()


def test_no_agent_online_the_widget_asks_for_an_email(warmline_server, browser, brand):
    workspace, agent, port = brand
    agent.availability = "offline"
    agent.save()
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"http://shop.test:{port}/")
        page.click("[data-wl=launcher]")
        page.wait_for_selector("[data-wl=status]:has-text('No one is available')")
        assert page.is_visible("[data-wl=email-form]")
        page.fill("[data-wl=email]", "ana@example.com")
        page.click("[data-wl=email-save]")
        page.wait_for_selector("[data-wl=status]:has-text('reply by email')")
        assert not page.is_visible("[data-wl=email-form]")
    finally:
        ctx.close()


def test_visitor_answers_the_in_chat_survey_card_with_one_click(warmline_server, browser, brand):
    from warmline.feedback import services as feedback
    from warmline.feedback.models import Answer

    workspace, agent, port = brand
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"http://shop.test:{port}/")
        page.click("[data-wl=launcher]")
        page.fill("[data-wl=input]", "Where is my order?")
        page.click("[data-wl=send]")
        page.wait_for_selector(".b.v[data-id]", timeout=10_000)
        conv = _wait_for_conversation(workspace)
        conv.status = "resolved"
        conv.save(update_fields=["status"])
        workspace.name = f"Shop {EVIL}"  # the question names the brand: shown as text
        workspace.save(update_fields=["name"])
        survey = feedback.send_survey(
            workspace=workspace, conversation=conv, kinds=["nps"], channel="chat"
        )
        # Live or after a reload, the card is there with its eleven score buttons.
        page.reload()
        page.click("[data-wl=launcher]")
        card = page.wait_for_selector("[data-wl=survey-card]", timeout=10_000)
        assert len(card.query_selector_all("[data-kind=nps] button")) == 11
        assert f"recommend Shop {EVIL}" in card.inner_text()
        page.click("[data-wl=survey-card] [data-kind=nps] button[data-score='9']")
        page.wait_for_selector(
            "[data-wl=survey-card][data-answered] :text('Thank you for your answer!')",
            timeout=10_000,
        )
        assert list(Answer.objects.filter(survey=survey).values_list("kind", "score")) == [
            ("nps", 9)
        ]
        # The transcript replays the card as answered: no buttons to click twice.
        page.reload()
        page.click("[data-wl=launcher]")
        page.wait_for_selector("[data-wl=survey-card][data-answered]", timeout=10_000)
        assert page.locator("[data-wl=survey-card] button").count() == 0
        assert not page.evaluate("() => window.pwned === 1")
    finally:
        ctx.close()
