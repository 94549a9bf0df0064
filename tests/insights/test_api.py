from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from tests.conftest import ApiClient
from tests.factories import (
    ConversationFactory,
    CustomerFactory,
    MemberFactory,
    TeamFactory,
    WorkspaceFactory,
)
from warmline.insights.rollups import refresh_conversation
from warmline.tenancy.services import issue_token

from .helpers import answer


@pytest.fixture
def data(workspace, member):
    now = timezone.now()
    c = ConversationFactory(
        workspace=workspace,
        customer=CustomerFactory(workspace=workspace),
        status="resolved",
        opened_at=now,
        resolved_at=now,
        customer_message_count=1,
        owner=member,
    )
    answer(c, "nps", 10, now)
    refresh_conversation(c.pk)
    return c


def test_kpis_endpoint(api, data):
    body = api.get("/api/v1/kpis?days=7").json()
    assert body["workspaces"] == ["acme"]
    assert body["kpis"]["nps"]["value"] == 100.0 and body["kpis"]["nps"]["n"] == 1
    assert body["kpis"]["fcr"]["value"] == 100.0
    assert body["kpis"]["csat"]["value"] is None  # no data, not zero
    assert body["kpis"]["nps"]["previous"] is None and body["kpis"]["nps"]["change"] is None


def test_kpis_match_the_dashboard(api, client, member, data):
    client.force_login(member.user)
    page = client.get("/insights/?days=7").content.decode()
    api_nps = api.get("/api/v1/kpis?days=7").json()["kpis"]["nps"]["value"]
    assert f'data-kpi="nps">\n      <small>NPS</small>\n      <span class="v">{api_nps:.1f}' in page


def test_series_breakdown_correlations(api, data):
    assert api.get("/api/v1/kpis/series?days=14&granularity=day").json()["series"][-1]["kpis"][
        "nps"
    ]["value"] in (100.0, None)
    rows = api.get("/api/v1/kpis/breakdown?days=7&by=channel").json()["rows"]
    assert rows == [{"key": "email", "kpis": rows[0]["kpis"]}]
    pairs = api.get("/api/v1/kpis/correlations?days=28").json()["pairs"]
    assert pairs["fcr_vs_nps"]["n"] == 1 and pairs["fcr_vs_nps"]["r"] is None


def test_csv_export(api, data):
    response = api.get("/api/v1/kpis?days=7&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = {r[0]: r for r in csv.reader(io.StringIO(response.content.decode()))}
    assert rows["nps"][2] == "100.0" and rows["csat"][2] == ""


def test_bad_input_is_422(api, data):
    assert api.get("/api/v1/kpis?days=0").status_code == 422
    assert api.get("/api/v1/kpis?start=2026-02-01&end=2026-01-01").status_code == 422
    assert api.get("/api/v1/kpis?start=2026-02-01").status_code == 422
    assert api.get("/api/v1/kpis?channel=pigeon").status_code == 422


def test_other_workspace_ids_are_404(api, other_workspace):
    team = TeamFactory(workspace=other_workspace)
    stranger = MemberFactory(workspace=other_workspace)
    assert api.get(f"/api/v1/kpis?team_id={team.pk}").status_code == 404
    assert api.get(f"/api/v1/kpis?owner_id={stranger.pk}").status_code == 404
    assert api.get(f"/api/v1/kpis/series?team_id={team.pk}").status_code == 404


def test_other_workspace_sees_none_of_our_numbers(other_api, data):
    assert other_api.get("/api/v1/kpis?days=7").json()["kpis"]["nps"]["value"] is None


def test_operator_view_lists_only_led_workspaces(workspace, data, member):
    sister = WorkspaceFactory(brand_group="group-a")
    other_group = WorkspaceFactory(brand_group="group-b")
    unrelated = WorkspaceFactory()
    workspace.brand_group = "group-a"
    workspace.save()
    _, secret = issue_token(member=member)
    me = ApiClient(secret)
    MemberFactory(workspace=unrelated, user=member.user, role="agent")
    assert me.get("/api/v1/kpis/workspaces").json()["workspaces"] == ["acme"]
    MemberFactory(workspace=sister, user=member.user, role="lead")
    MemberFactory(workspace=other_group, user=member.user, role="admin")
    body = me.get("/api/v1/kpis/workspaces?days=7").json()
    assert body["workspaces"] == ["acme", sister.slug, other_group.slug] or sorted(
        body["workspaces"]
    ) == sorted(["acme", sister.slug, other_group.slug])
    assert unrelated.slug not in body["workspaces"]  # an agent there: no cross-brand numbers
    acme = next(r for r in body["rows"] if r["workspace"] == "acme")
    assert acme["kpis"]["nps"]["value"] == 100.0
    group = me.get("/api/v1/kpis?scope=brand_group&days=7").json()
    assert sorted(group["workspaces"]) == sorted(["acme", sister.slug])
    assert group["kpis"]["nps"]["value"] == 100.0  # the sister has no answers yet


def test_customer_kpis(api, workspace, data):
    body = api.get("/api/v1/kpis/customers?days=7").json()
    assert body["retention"]["start"] == 0 and body["retention"]["retention_rate"] is None
    assert body["retention"]["end"] == 1
    assert body["clv"]["customers"] == 0 and body["clv"]["average"] is None


def test_needs_auth(client):
    assert client.get("/api/v1/kpis").status_code == 401


def test_predicted_clv_from_orders(api, workspace):
    import datetime as dt
    import random
    from decimal import Decimal

    from warmline.customers.models import Order

    rng = random.Random(5)
    start = timezone.now() - dt.timedelta(days=300)
    for i in range(40):
        customer = CustomerFactory(workspace=workspace)
        for j in range(rng.choice([1, 1, 2, 3, 5])):
            Order.objects.create(
                workspace=workspace,
                customer=customer,
                external_id=f"o{i}-{j}",
                total=Decimal(rng.randint(10, 90)),
                status="delivered",
                placed_at=start + dt.timedelta(days=rng.randint(0, 290)),
            )
    body = api.get("/api/v1/kpis/customers?days=30").json()
    assert body["clv"]["customers"] == 40 and Decimal(body["clv"]["average"]) > 0
    predicted = body["predicted_clv"]
    assert predicted["n"] == 40
    assert predicted["value"] is None or predicted["value"] > 0
    assert predicted.get("reason") or predicted["method"].startswith("BG/NBD")
