"""The public survey page on a phone, in a real browser (Debian's chromium, Playwright):
no login, the customer's language, no sideways scrolling, a thank-you, one answer."""

from __future__ import annotations

import os

import pytest

from tests.browser import ARTIFACTS, CHROMIUM
from tests.browser import CHROMIUM_ARGS as ARGS
from tests.factories import ConversationFactory, CustomerFactory, IdentityFactory
from warmline.feedback import services
from warmline.feedback.models import Answer, RecoveryTask

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent"),
]


@pytest.fixture
def phone_survey(transactional_db, workspace, member, settings, live_server):
    settings.WARMLINE_PUBLIC_URL = live_server.url
    customer = CustomerFactory(workspace=workspace, preferred_language="es", owner=member)
    IdentityFactory(workspace=workspace, customer=customer, kind="email", value="eva@example.org")
    conv = ConversationFactory(
        workspace=workspace, customer=customer, owner=member, status="resolved"
    )
    return services.send_survey(workspace=workspace, conversation=conv)


def test_answer_on_a_phone(live_server, phone_survey, member):
    from playwright.sync_api import sync_playwright

    url = services.public_url(phone_survey.token)
    ARTIFACTS.mkdir(exist_ok=True)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            phone = browser.new_context(
                viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
            )
            page = phone.new_page()
            page.goto(url)
            lang = page.evaluate("() => document.documentElement.lang")
            sideways = page.evaluate(
                "() => document.scrollingElement.scrollWidth > window.innerWidth"
            )
            page.screenshot(path=str(ARTIFACTS / "survey-phone.png"), full_page=True)
            # A detractor answer: NPS 3, CSAT 2, with a comment.
            page.tap("input[name=nps][value='3'] + span")
            page.tap("input[name=csat][value='2'] + span")
            page.fill("#comment", "Tardaron mucho")
            with page.expect_navigation():
                page.tap("button[type=submit]")
            thanks = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "survey-phone-thanks.png"), full_page=True)
            # Back and submit again: refused, one answer kept.
            page.goto(url)
            again = page.inner_text("body")
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
    assert lang == "es" and not sideways
    assert "¡Gracias por su respuesta!" in thanks
    assert "ya fue respondida" in again
    assert sorted(Answer.objects.values_list("kind", "score")) == [("csat", 2), ("nps", 3)]
    task = RecoveryTask.objects.get()
    assert task.member == member and "NPS 3" in task.reason
