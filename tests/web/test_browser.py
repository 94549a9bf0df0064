"""The agent workspace in a real browser (Debian's chromium through Playwright).

One ASGI server (uvicorn, in a thread, on a free loopback port) serves pages and
websockets against the test database, so a reply typed in one browser context
must arrive live in another. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import threading

import pytest

from tests.browser import ARTIFACTS, CHROMIUM
from tests.browser import asgi_server as serve_asgi
from tests.factories import MemberFactory

from .conftest import PASSWORD, ingest

EVIL = "<script>window.pwned=1</script>"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent"),
]


@pytest.fixture(scope="module")
def asgi_server(django_db_setup, django_db_blocker):
    with serve_asgi(django_db_blocker) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; Django's database
    # setup and flush in the test thread are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield b
        b.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _sign_in(browser, base: str, username: str, viewport=None):
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    page.goto(base + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    return context, page


UNLABELLED = """() => Array.from(document.querySelectorAll(
  'input:not([type=hidden]), select, textarea, button')).filter(el => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
    if (el.labels && el.labels.length) return false;
    if (el.tagName === 'BUTTON' && el.textContent.trim()) return false;
    return true;
  }).map(el => el.outerHTML.slice(0, 120))"""


def _unlabelled(page) -> list[str]:
    """Form controls a screen reader could not name (no label, aria-label or text)."""
    return page.evaluate(UNLABELLED)


def _pwned(page) -> bool:
    return page.evaluate("() => window.pwned === 1") or bool(page.dialogs)


@pytest.fixture
def scene(transactional_db, workspace):
    agent = MemberFactory(workspace=workspace, display_name="Ana Agent")
    colleague = MemberFactory(workspace=workspace, display_name="Ben Colleague")
    result = ingest(
        workspace,
        f"My parcel never came {EVIL}",
        name=f"Eve {EVIL}",
        email="eve@example.com",
        subject="Parcel missing",
    )
    return agent, colleague, result.conversation


def test_reply_appears_in_timeline_and_live_for_a_colleague(asgi_server, browser, scene):
    agent, colleague, conv = scene
    ARTIFACTS.mkdir(exist_ok=True)
    ctx_a, page_a = _sign_in(browser, asgi_server, agent.user.username)
    ctx_b, page_b = _sign_in(browser, asgi_server, colleague.user.username)
    try:
        # Inbox: the case is there (All view), keyboard j + Enter opens it.
        page_a.goto(asgi_server + "/?view=all")
        page_a.wait_for_selector(f"tr[data-number='{conv.number}']")
        page_a.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)
        assert _unlabelled(page_a) == []
        page_a.keyboard.press("j")
        page_a.keyboard.press("Enter")
        page_a.wait_for_url(f"**/c/{conv.number}/")
        assert "My parcel never came" in page_a.inner_text("#timeline")
        assert "<script>" in page_a.inner_text("#timeline")  # shown as text, not run

        page_b.goto(f"{asgi_server}/c/{conv.number}/")
        # Presence: each sees the other; typing shows "is replying".
        page_a.wait_for_selector("[data-presence]:has-text('Ben Colleague')", timeout=5000)
        page_b.fill("#reply-text", "")
        page_a.type("#reply-text", "Hello Eve, a new parcel ships today.")
        page_b.wait_for_selector("[data-presence]:has-text('Ana Agent is replying')", timeout=5000)

        page_a.screenshot(path=str(ARTIFACTS / "conversation.png"), full_page=True)
        assert _unlabelled(page_a) == []
        page_a.locator("#panel").screenshot(path=str(ARTIFACTS / "panel-360.png"))
        page_a.click("button.primary:has-text('Send')")
        page_a.wait_for_selector(
            "#timeline .agent_reply:has-text('a new parcel ships today')", timeout=5000
        )
        # The box empties once the reply request has finished (the live refresh may
        # show the entry a moment earlier).
        page_a.wait_for_function(
            "() => document.querySelector('#reply-text').value === ''", timeout=5000
        )
        # The colleague's open page receives it without reloading.
        page_b.wait_for_selector(
            "#timeline .agent_reply:has-text('a new parcel ships today')", timeout=5000
        )

        # A colleague's change reaches the open page's header without a reload. (Made from
        # another thread: Playwright's sync API keeps an event loop on this one.)
        def change_priority() -> None:
            from django.db import connection

            from warmline.conversations import services as conversations

            try:
                conversations.update_conversation(
                    workspace=conv.workspace,
                    actor=colleague,
                    conversation=conv,
                    changes={"priority": "urgent"},
                )
            finally:
                connection.close()

        worker = threading.Thread(target=change_priority)
        worker.start()
        worker.join(timeout=20)
        page_a.wait_for_selector("#case-meta .prio-urgent", timeout=5000)
        assert not _pwned(page_a) and not _pwned(page_b)
    finally:
        ctx_a.close()
        ctx_b.close()


def test_spanish_interface_at_tablet_width(asgi_server, browser, scene):
    agent, _, conv = scene
    agent.locale = "es"
    agent.save()
    ctx, page = _sign_in(
        browser, asgi_server, agent.user.username, viewport={"width": 800, "height": 1000}
    )
    try:
        page.goto(asgi_server + "/?view=all")
        assert page.get_attribute("html", "lang") == "es"
        assert "Bandeja de entrada" in page.inner_text("header")
        assert "Sin asignar" in page.inner_text("nav.views")
        page.screenshot(path=str(ARTIFACTS / "inbox-es-tablet.png"), full_page=True)
        page.goto(f"{asgi_server}/c/{conv.number}/")
        assert "Responder al cliente" in page.inner_text("form.composer")
        assert "Evolución del sentimiento" in page.inner_text("#panel")
        # At tablet width the panel sits below the case instead of beside it.
        case_box = page.locator("section.case").bounding_box()
        panel_box = page.locator("#panel").bounding_box()
        assert panel_box["y"] > case_box["y"] + case_box["height"] - 1
        page.screenshot(path=str(ARTIFACTS / "conversation-es-tablet.png"), full_page=True)
        assert not _pwned(page)
    finally:
        ctx.close()


def test_keyboard_reply_and_resolve_and_a_safe_macro(asgi_server, browser, scene, workspace):
    """r opens the case with the reply box focused; a macro naming a hostile customer
    arrives as inert text; e in the inbox resolves the selected row."""
    from warmline.conversations.models import Conversation
    from warmline.knowledge.services import create_saved_reply

    agent, _, conv = scene
    create_saved_reply(
        workspace=workspace, actor=agent, title="Greeting", body="Hi {{first_name}} {{name}}"
    )
    ctx, page = _sign_in(browser, asgi_server, agent.user.username)
    try:
        page.goto(asgi_server + "/?view=all")
        page.wait_for_selector(f"tr[data-number='{conv.number}']")
        page.keyboard.press("j")
        page.keyboard.press("r")
        page.wait_for_url(f"**/c/{conv.number}/#reply-text")
        page.wait_for_function("() => document.activeElement.id === 'reply-text'")
        page.select_option("#saved-reply", label="Greeting")
        page.wait_for_function("() => document.querySelector('#reply-text').value !== ''")
        assert page.input_value("#reply-text") == f"Hi Eve Eve {EVIL}"
        assert not _pwned(page)

        page.goto(asgi_server + "/?view=all")
        page.wait_for_selector(f"tr[data-number='{conv.number}']")
        page.keyboard.press("j")
        page.keyboard.press("e")
        page.wait_for_selector(f"tr[data-number='{conv.number}']", state="detached", timeout=5000)
        conv.refresh_from_db()
        assert conv.status == "resolved"
        assert Conversation.objects.get(pk=conv.pk).status == "resolved"
    finally:
        ctx.close()


def test_new_message_appears_live_in_an_open_inbox(asgi_server, browser, scene, workspace):
    agent, _, conv = scene
    ctx, page = _sign_in(browser, asgi_server, agent.user.username)
    try:
        page.goto(asgi_server + "/?view=all")
        page.wait_for_selector(f"tr[data-number='{conv.number}']")
        page.wait_for_timeout(500)  # the inbox socket connects after load

        def arrive() -> None:
            from django.db import connection

            try:
                ingest(workspace, "Is anyone there?", name="Nora New", email="nora@example.com")
            finally:
                connection.close()

        worker = threading.Thread(target=arrive)  # Playwright's loop lives on this thread
        worker.start()
        worker.join(timeout=20)
        page.wait_for_selector("#inbox-rows tr[data-row]:has-text('Nora New')", timeout=5000)
        assert page.locator("#inbox-rows tr[data-row]").count() == 2
    finally:
        ctx.close()
