from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from tests.factories import MemberFactory, TeamFactory


@pytest.fixture
def signed_in(client, member):
    client.force_login(member.user)
    return client


def test_dashboard_renders_no_data_and_tables(signed_in):
    response = signed_in.get("/insights/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "no data" in body and "Connect the dots" in body
    assert "not enough data (n = 0 weeks)" in body


def test_dashboard_without_chartjs_has_no_script(signed_in, settings, tmp_path):
    from django.contrib.staticfiles import finders

    finders.get_finder.cache_clear()
    with override_settings(STATICFILES_DIRS=[]):
        found = finders.find("vendor/chart.umd.js")
        body = signed_in.get("/insights/").content.decode()
    assert ("chart.umd.js" in body) == bool(found)
    assert "<table" in body


def test_dashboard_with_chartjs(signed_in, tmp_path):
    from django.contrib.staticfiles import finders

    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "chart.umd.js").write_text("/* test */")
    finders.get_finder.cache_clear()
    with override_settings(STATICFILES_DIRS=[str(tmp_path)]):
        body = signed_in.get("/insights/").content.decode()
    finders.get_finder.cache_clear()
    assert "vendor/chart.umd.js" in body and "trend-chart" in body


def test_team_of_another_workspace_is_404(signed_in, other_workspace):
    team = TeamFactory(workspace=other_workspace)
    assert signed_in.get(f"/insights/?team_id={team.pk}").status_code == 404
    assert signed_in.get(f"/insights/export/kpis.csv?team_id={team.pk}").status_code == 404


def test_exports(signed_in):
    for table in ("kpis", "series", "breakdown", "workspaces", "correlations"):
        response = signed_in.get(f"/insights/export/{table}.csv")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert signed_in.get("/insights/export/secrets.csv").status_code == 404


def test_operator_page(signed_in, member, other_workspace):
    member.role = "lead"
    member.save()
    MemberFactory(workspace=other_workspace, user=member.user, role="admin")
    body = signed_in.get("/insights/operator/").content.decode()
    assert "Acme" in body and "Globex" in body


def test_login_required(client, db):
    assert client.get("/insights/").status_code == 302


def test_dashboard_speaks_spanish(signed_in, member):
    member.locale = "es"
    member.save()
    body = signed_in.get("/insights/").content.decode()
    assert "KPI de lealtad y atención" in body and "sin datos" in body
    assert "Resolución en el primer contacto" in body and "Unir los puntos" in body


def test_breakdown_shows_names_and_member_filter(signed_in, workspace, member):
    from django.utils import timezone

    from tests.factories import ConversationFactory
    from warmline.insights.rollups import refresh_conversation

    team = TeamFactory(workspace=workspace, name="Billing")
    now = timezone.now()
    conv = ConversationFactory(
        workspace=workspace,
        team=team,
        owner=member,
        status="resolved",
        opened_at=now - dt.timedelta(hours=3),
        resolved_at=now - dt.timedelta(hours=1),
    )
    refresh_conversation(conv.pk)
    body = signed_in.get(f"/insights/?by=team_id&owner_id={member.pk}").content.decode()
    assert f'<option value="{member.pk}" selected>' in body
    assert "<tr><td>Billing</td><td>1</td>" in body


def test_insights_is_in_the_main_navigation(signed_in):
    body = signed_in.get("/insights/").content.decode()
    assert '<a href="/insights/" aria-current="page">Insights</a>' in body


def test_customer_tiles_show_no_data_then_figures(signed_in, workspace):
    from django.utils import timezone

    from tests.factories import ConversationFactory, CustomerFactory

    body = signed_in.get("/insights/?days=7").content.decode()
    assert 'data-kpi="retention_rate"><small>Retention rate</small><span class="v nodata">' in body
    # One customer active in the previous week and again this week: retention 100%.
    customer = CustomerFactory(workspace=workspace)
    now = timezone.now()
    for days_ago in (9, 1):
        ConversationFactory(
            workspace=workspace, customer=customer, opened_at=now - dt.timedelta(days=days_ago)
        )
    body = signed_in.get("/insights/?days=7").content.decode()
    assert '<span class="v">100.0%</span><small>S = 1, E = 1, N = 0</small>' in body
