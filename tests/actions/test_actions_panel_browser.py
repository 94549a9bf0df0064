"""The Actions section in a real browser: htmx loads it after the page, a double click on
"Take action" refunds once, and the action's entry appears in the timeline."""

from __future__ import annotations

import pytest

from tests.factories import MemberFactory
from tests.web.conftest import ingest
from tests.web.test_browser import CHROMIUM, _pwned, _sign_in, _unlabelled, asgi_server, browser  # noqa: F401
from warmline.actions.models import ActionStatus, EmpoweredAction

from .test_authority import agent_profile, make_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent"),
]


def test_a_double_click_refunds_once_and_the_timeline_shows_it(
    transactional_db,
    workspace,
    asgi_server,  # noqa: F811 - the fixture
    browser,  # noqa: F811 - the fixture
):
    agent = MemberFactory(workspace=workspace, display_name="Ana Agent")
    conv = ingest(workspace, "The lamp arrived broken", subject="Broken lamp").conversation
    agent_profile(workspace)
    make_order(conv, external_id="W<i>1</i>")
    ctx, page = _sign_in(browser, asgi_server, agent.user.username)
    try:
        page.goto(f"{asgi_server}/c/{conv.number}/")
        page.wait_for_selector("#actions-panel form.action-form", timeout=10000)
        assert page.locator("#a-action option").count() == 3
        # Choosing an action re-renders the form: wait for it before typing.
        with page.expect_response(lambda r: "action=account_credit" in r.url):
            page.select_option("#a-action", "account_credit")
        page.wait_for_selector("#actions-panel #a-order_id", state="detached", timeout=10000)
        page.wait_for_selector("#actions-panel:not(.htmx-added) #a-action", timeout=10000)
        with page.expect_response(lambda r: "action=refund" in r.url):
            page.select_option("#a-action", "refund")
        page.wait_for_selector("#actions-panel:not(.htmx-added) #a-order_id", timeout=10000)
        assert "W<i>1</i>" in page.inner_text("#a-order_id")  # text, not markup
        page.fill("#a-amount", "20.00")
        page.fill("#a-reason", "arrived broken")
        assert _unlabelled(page) == []
        # htmx drops the second click (hx-sync); the form's idempotency key covers any
        # re-sent POST (tests/actions/test_actions_panel.py posts twice with one key).
        page.dblclick("#actions-panel button.primary")
        page.wait_for_selector("[data-action-result='executed']", timeout=10000)
        page.wait_for_selector(
            "#timeline .entry.action:has-text('Refund of 20.00 USD')", timeout=10000
        )
        assert EmpoweredAction.objects.filter(workspace=workspace).count() == 1
        assert EmpoweredAction.objects.get().status == ActionStatus.EXECUTED
        # The server's refusal shows in place (more than the order has left to refund);
        # the browser's own checks let it through, the service does not.
        page.fill("#a-amount", "500.00")
        page.fill("#a-reason", "again")
        page.click("#actions-panel button.primary")
        page.wait_for_selector("[data-action-error]", timeout=10000)
        assert page.locator("#a-amount").input_value() == "500.00"
        assert EmpoweredAction.objects.count() == 1
        assert not _pwned(page)
    finally:
        ctx.close()
