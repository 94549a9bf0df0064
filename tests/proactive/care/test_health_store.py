"""Stored health scores: hand-computable components, history, trend and recompute triggers."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.factories import ConversationFactory
from tests.proactive.care.conftest import NOW
from warmline.conversations.models import TimelineEntry
from warmline.customers.models import Order
from warmline.feedback.models import Answer, Survey, SurveyResponse
from warmline.proactive.care import services
from warmline.proactive.care.models import CareSettings, CustomerHealth, HealthSnapshot

pytestmark = pytest.mark.django_db


def _days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def _survey(conv, score, at, kind="nps"):
    survey = Survey.objects.create(
        workspace=conv.workspace,
        conversation=conv,
        customer=conv.customer,
        token=f"t{conv.pk}{kind}",
        kinds=[kind],
        channel="email",
        trigger="manual",
        status="answered",
        sent_at=at,
        expires_at=at + _days(14),
        answered_at=at,
    )
    response = SurveyResponse.objects.create(
        workspace=conv.workspace, survey=survey, submitted_at=at
    )
    lo, hi = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[kind]
    Answer.objects.create(
        workspace=conv.workspace,
        response=response,
        survey=survey,
        conversation=conv,
        kind=kind,
        score=score,
        scale_min=lo,
        scale_max=hi,
        answered_at=at,
    )
    return survey


def test_customer_with_only_tenure_scores_from_counts(clock, workspace, make_customer):
    # no messages, surveys or purchases: issues 15 + contacts 10 + escalations 10 at full,
    # tenure 73/365 = 0.2 of 5; the absent components' weight is spread over these 40
    c = make_customer(customer_since=(NOW - _days(73)).date())
    services.recompute_health(workspace=workspace)
    row = CustomerHealth.objects.get(customer=c)
    assert row.score == pytest.approx(100 * (15 + 10 + 10 + 1) / 40)  # 90.0
    assert row.trend == "flat" and row.previous_score is None
    assert row.churn_probability is None  # no model: the workspace has no churn history


def test_every_component_on_a_hand_computed_customer(clock, workspace, make_customer):
    c = make_customer(customer_since=(NOW - _days(365)).date())
    # orders 100, 80 and 60 days ago: usual gap 20, 60 days since -> 3 gaps -> 1 - 1.5/2
    for i, ago in enumerate((100, 80, 60)):
        Order.objects.create(
            workspace=workspace, customer=c, external_id=f"O{i}", placed_at=NOW - _days(ago)
        )
    # one open case opened 10 days ago (so not "this week"), its message sentiment -0.2
    conv = ConversationFactory(
        customer=c, opened_at=NOW - _days(10), status="open", customer_message_count=1
    )
    TimelineEntry.objects.create(
        workspace=workspace,
        conversation=conv,
        kind="customer_message",
        text="meh",
        sentiment=-0.2,
        occurred_at=NOW - _days(10),
    )
    _survey(conv, 6, NOW - _days(5))
    services.recompute_health(workspace=workspace)
    view = services.health_for(workspace=workspace, customer_id=c.pk)
    points = {p.name: round(p.points, 6) for p in view.explained.components}
    assert points == {
        "sentiment": 8.0,  # 20 * (-0.2 + 1) / 2
        "issues": 12.0,  # 15 * (1 - 1/5)
        "contacts": 10.0,  # none this week
        "surveys": 12.0,  # 20 * 6/10
        "recency": 5.0,  # 20 * 0.25
        "escalations": 10.0,
        "tenure": 5.0,
    }
    assert view.score == pytest.approx(62.0)
    assert view.explained.score == pytest.approx(view.score)


def test_workspace_tuning_changes_the_weights(clock, workspace, make_customer, lead):
    c = make_customer(customer_since=(NOW - _days(73)).date())
    services.update_settings(
        workspace=workspace, actor=lead, changes={"health": {"weights": {"tenure": 0}}}
    )
    services.recompute_health(workspace=workspace)
    assert CustomerHealth.objects.get(customer=c).score == pytest.approx(100.0)


def test_bad_tuning_names_the_field(workspace, lead):
    from warmline.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        services.update_settings(
            workspace=workspace, actor=lead, changes={"health": {"weights": {"luck": 3}}}
        )
    assert err.value.field == "health" and "luck" in err.value.message
    assert not CareSettings.objects.filter(workspace=workspace, health__has_key="weights").exists()


def test_history_and_trend_arrow(workspace, make_customer):
    with time_machine.travel(NOW, tick=False):
        c = make_customer(customer_since=(NOW - _days(365)).date())
        services.recompute_health(workspace=workspace)
        services.recompute_health(workspace=workspace)  # nothing changed: no new snapshot
        first = CustomerHealth.objects.get(customer=c).score
        assert HealthSnapshot.objects.filter(customer=c).count() == 1
        # three escalated open cases this week: the score falls
        for _ in range(3):
            ConversationFactory(
                customer=c,
                status="open",
                escalated_at=NOW,
                opened_at=NOW,
                customer_message_count=1,
            )
        # a proactive case we opened and nobody answered is not an issue
        ConversationFactory(customer=c, status="pending", opened_at=NOW, tags=["proactive"])
        services.recompute_health(workspace=workspace)
    row = CustomerHealth.objects.get(customer=c)
    assert row.score < first - 3 and row.previous_score == pytest.approx(first)
    assert (
        services.health_for(workspace=workspace, customer_id=c.pk)
        .explained.contribution("issues")
        .reason.startswith("3 open")
    )
    assert row.trend == "down"
    with time_machine.travel(NOW + _days(1), tick=False):
        services.recompute_health(workspace=workspace)
    row.refresh_from_db()
    # unchanged score the next day: the arrow still points at the last change...
    assert row.trend == "down" and row.previous_score == pytest.approx(first)
    # ...and the day still gets its history point
    assert HealthSnapshot.objects.filter(customer=c).count() == 3


def test_recompute_for_named_customers_only(clock, workspace, make_customer):
    a, b = make_customer(), make_customer(name="Bo")
    services.recompute_health(workspace=workspace, customer_ids=[a.pk])
    assert CustomerHealth.objects.filter(customer=a).exists()
    assert not CustomerHealth.objects.filter(customer=b).exists()


def test_an_ingested_message_rescores_the_customer(workspace, django_capture_on_commit_callbacks):
    from tests.web.conftest import ingest

    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(workspace, "This is terrible, nothing works!", email="z@example.org")
    assert CustomerHealth.objects.filter(customer=result.customer).exists()
    assert (
        services.health_for(workspace=workspace, customer_id=result.customer.pk)
        .explained.contribution("issues")
        .reason.startswith("1 open")
    )
    assert HealthSnapshot.objects.filter(customer=result.customer).exists()


def test_another_workspace_sees_no_score(clock, workspace, other_workspace, make_customer):
    c = make_customer()
    services.recompute_health(workspace=workspace)
    assert services.health_for(workspace=other_workspace, customer_id=c.pk) is None
