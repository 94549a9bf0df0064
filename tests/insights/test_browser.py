"""The KPI dashboard draws its charts in a real browser (Debian's chromium, Playwright).

Chart.js comes from ``make setup`` (npm, copied into the ignored static/vendor/);
without it the test is skipped and says so. A screenshot lands in ``test-artifacts/``.
"""

from __future__ import annotations

import datetime as dt
import os
import random

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from tests.browser import ARTIFACTS, CHROMIUM
from tests.browser import CHROMIUM_ARGS as ARGS
from tests.factories import ConversationFactory, CustomerFactory, MemberFactory
from warmline.insights.rollups import refresh_conversation

from .helpers import answer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent"),
]


@pytest.fixture
def weeks_of_data(transactional_db, workspace):
    """Five weeks of resolved conversations with NPS and CSAT answers, rolled up."""
    rng = random.Random(5)
    now = timezone.now()
    customers = [CustomerFactory(workspace=workspace) for _ in range(6)]
    for i in range(40):
        opened = now - dt.timedelta(days=rng.uniform(1, 33))
        c = ConversationFactory(
            workspace=workspace,
            customer=customers[i % len(customers)],
            status="resolved",
            opened_at=opened,
            last_activity_at=opened,
            first_response_at=opened + dt.timedelta(minutes=30),
            resolved_at=opened + dt.timedelta(hours=3),
            customer_message_count=rng.choice([1, 1, 2]),
            sentiment_first=-0.3,
            sentiment_last=round(rng.uniform(-0.5, 0.8), 2),
        )
        at = c.resolved_at + dt.timedelta(hours=1)
        if at < now:
            answer(c, "nps", rng.randint(3, 10), at)
            answer(c, "csat", rng.randint(2, 5), at)
        refresh_conversation(c.pk)
    return workspace


def test_dashboard_draws_its_charts(live_server, weeks_of_data):
    if finders.find("vendor/chart.umd.js") is None:
        pytest.skip("Chart.js is not installed: run `make setup` (npm) first")
    from playwright.sync_api import sync_playwright

    member = MemberFactory(workspace=weeks_of_data, role="lead")
    client = Client()
    client.force_login(member.user)
    session = client.cookies["sessionid"].value
    ARTIFACTS.mkdir(exist_ok=True)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(live_server.url + "/insights/?days=35")
            page.wait_for_function("() => window.Chart !== undefined")
            drawn = page.evaluate(
                """() => ["trend-chart", "dots-fcr_vs_nps", "dots-sentiment_change_vs_csat"]
                  .map(id => document.getElementById(id))
                  .filter(c => c)
                  .map(c => {
                    const chart = Chart.getChart(c);
                    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                    let inked = 0;
                    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked++;
                    return {id: c.id, chart: !!chart, points: chart ?
                      chart.data.datasets.reduce((n, d) => n + d.data.filter(
                        v => v !== null).length, 0) : 0, inked};
                  })"""
            )
            page.screenshot(path=str(ARTIFACTS / "insights-dashboard.png"), full_page=True)
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
    assert not errors, errors
    assert [d["id"] for d in drawn] == [
        "trend-chart",
        "dots-fcr_vs_nps",
        "dots-sentiment_change_vs_csat",
    ]
    for d in drawn:
        assert d["chart"] and d["points"] > 0 and d["inked"] > 1000, d
