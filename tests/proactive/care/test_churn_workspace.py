"""The workspace's own churn model: trained only above the threshold, stored as JSON, and
its vectorised predictions equal the model's own."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.proactive.care.conftest import NOW
from warmline.conversations.models import Conversation
from warmline.customers.models import Customer
from warmline.proactive import churn
from warmline.proactive.care import scoring, services
from warmline.proactive.care.models import ChurnModelRecord, CustomerHealth

pytestmark = pytest.mark.django_db


def _history(workspace, customers: int, churned: int):
    rng = np.random.default_rng(7)
    rows = []
    for i in range(customers):
        gone = i < churned
        rows.append(
            Customer(
                workspace=workspace,
                name=f"C{i}",
                tier="gold" if i % 3 == 0 else "standard",
                lifecycle="churned" if gone else "active",
                # churned customers were newer and unhappier (with noise)
                customer_since=(
                    NOW
                    - dt.timedelta(
                        days=int(rng.integers(20, 200) if gone else rng.integers(100, 900))
                    )
                ).date(),
            )
        )
    Customer.objects.bulk_create(rows)
    convs = []
    for k, c in enumerate(Customer.objects.filter(workspace=workspace, lifecycle="churned")):
        convs.append(
            Conversation(
                workspace=workspace,
                customer=c,
                number=k + 1,
                channel="email",
                status="open",
                opened_at=NOW - dt.timedelta(days=3),
                last_activity_at=NOW,
                escalated_at=NOW if k % 2 else None,
                customer_message_count=1,
            )
        )
    Conversation.objects.bulk_create(convs)


def test_no_model_below_the_threshold(clock, workspace):
    _history(workspace, customers=240, churned=churn.MIN_CHURN_EVENTS - 1)
    with pytest.raises(churn.NotEnoughHistory) as err:
        services.train_churn_model(workspace=workspace, now=NOW)
    assert "49 churn events" in str(err.value)
    assert not ChurnModelRecord.objects.exists()
    services.recompute_health(workspace=workspace, now=NOW)
    assert not CustomerHealth.objects.filter(churn_probability__isnull=False).exists()


def test_model_trained_on_own_history_scores_customers(clock, workspace):
    _history(workspace, customers=260, churned=60)
    record = services.train_churn_model(workspace=workspace, now=NOW)
    assert (record.customers, record.churn_events) == (260, 60)
    assert record.cv_auc is not None and record.cv_auc > 0.8  # the planted signal is found
    model = churn.ChurnModel.from_dict(record.model)  # plain JSON, loads back
    facts = scoring.gather_facts(workspace=workspace, now=NOW)
    fast = scoring.churn_probabilities(model, facts)
    assert np.allclose(fast, model.predict_proba(facts.churn_rows()), atol=1e-12)
    services.recompute_health(workspace=workspace, now=NOW)
    active = CustomerHealth.objects.filter(customer__lifecycle="active")
    assert active.filter(churn_probability__isnull=True).count() == 0
    # churned customers are past predicting
    assert not CustomerHealth.objects.filter(
        customer__lifecycle="churned", churn_probability__isnull=False
    ).exists()
