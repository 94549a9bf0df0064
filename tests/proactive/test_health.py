"""Health score: each component on hand-computable cases, tuning, trend arrow, batch == scalar."""

from __future__ import annotations

import numpy as np
import pytest

from warmline.proactive.health import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    CustomerFacts,
    FactsBatch,
    HealthConfig,
    Trend,
    normalise_survey,
    score_batch,
    score_customer,
    trend_arrow,
)

# A customer with data for every component, so each weight is worth its face value in
# points (defaults sum to 100). Each test below changes one fact of this baseline.
HEALTHY = CustomerFacts(
    sentiment_recent=1.0,
    sentiment_previous=1.0,
    open_issues=0,
    reopened_issues=0,
    contacts_recent=0,
    contacts_baseline=1.0,
    nps=10,
    csat=5,
    ces=7,
    days_since_activity=10,
    usual_gap_days=30,
    escalations=0,
    tenure_days=400,
)


def _with(**changes) -> CustomerFacts:
    return CustomerFacts(**{**HEALTHY.__dict__, **changes})


def _points(facts: CustomerFacts, name: str, config: HealthConfig | None = None) -> float:
    return score_customer(facts, config).contribution(name).points


def test_default_weights_sum_to_100_and_a_perfect_customer_scores_100():
    assert sum(DEFAULT_WEIGHTS.values()) == 100
    result = score_customer(HEALTHY)
    assert result.score == pytest.approx(100.0)
    assert [c.name for c in result.components] == list(COMPONENTS)


def test_points_always_add_up_to_the_score():
    facts = _with(sentiment_recent=-0.3, open_issues=2, nps=4, escalations=1, tenure_days=30)
    result = score_customer(facts)
    assert sum(c.points for c in result.components) == pytest.approx(result.score)


def test_sentiment_level_and_fall_are_both_counted():
    # level (0.2 + 1) / 2 = 0.6; change -0.4 with gain 1 takes off 0.2 -> 0.4 * 20 = 8
    facts = _with(sentiment_recent=0.2, sentiment_previous=0.6)
    assert _points(facts, "sentiment") == pytest.approx(8.0)
    assert "falling" in score_customer(facts).contribution("sentiment").reason


def test_sentiment_without_a_previous_window_uses_the_level_only():
    # (-0.5 + 1) / 2 = 0.25 -> 5 points of 20
    assert _points(_with(sentiment_recent=-0.5, sentiment_previous=None), "sentiment") == (
        pytest.approx(5.0)
    )


def test_open_and_reopened_issues():
    # penalty 1 + 2 * 1 = 3 of saturation 5 -> 0.4 * 15 = 6
    assert _points(_with(open_issues=1, reopened_issues=1), "issues") == pytest.approx(6.0)
    assert _points(_with(open_issues=7), "issues") == 0.0


def test_contacts_compared_with_the_customers_own_normal():
    # usual 2 a week, 2 this week: normal -> full 10 points
    assert _points(_with(contacts_recent=2, contacts_baseline=2.0), "contacts") == 10.0
    # usual 1, 2 this week: ratio 2, (2 - 1) / (3 - 1) = 0.5 off -> 5 points
    assert _points(_with(contacts_recent=2, contacts_baseline=1.0), "contacts") == (
        pytest.approx(5.0)
    )
    # the same two contacts are normal for a customer who usually writes four times
    assert _points(_with(contacts_recent=2, contacts_baseline=4.0), "contacts") == 10.0
    # three contacts in a week from someone who rarely writes (floor 1) -> 0
    assert _points(_with(contacts_recent=3, contacts_baseline=0.2), "contacts") == 0.0


def test_surveys_are_normalised_and_averaged():
    assert normalise_survey(6, None, None) == pytest.approx(0.6)
    assert normalise_survey(None, 2, None) == pytest.approx(0.25)
    assert normalise_survey(None, None, 4) == pytest.approx(0.5)
    # NPS 6 -> 0.6, CSAT 2 -> 0.25: mean 0.425 * 20 = 8.5
    assert _points(_with(nps=6, csat=2, ces=None), "surveys") == pytest.approx(8.5)


def test_recency_against_the_customers_own_cadence():
    # 50 days since, usual gap 20: overdue 2.5, (2.5 - 1.5) / (3.5 - 1.5) = 0.5 off -> 10
    assert _points(_with(days_since_activity=50, usual_gap_days=20), "recency") == (
        pytest.approx(10.0)
    )
    # within 1.5 gaps is on rhythm
    assert _points(_with(days_since_activity=30, usual_gap_days=20), "recency") == 20.0
    # a slow-cadence customer (usual gap 120) is not late at 50 days
    assert _points(_with(days_since_activity=50, usual_gap_days=120), "recency") == 20.0
    # one purchase only: the default 30-day gap; 90 days -> overdue 3 -> 0.25 * 20 = 5
    assert _points(_with(days_since_activity=90, usual_gap_days=None), "recency") == (
        pytest.approx(5.0)
    )


def test_escalations_and_tenure():
    assert _points(_with(escalations=1), "escalations") == pytest.approx(10 * 2 / 3)
    assert _points(_with(escalations=4), "escalations") == 0.0
    assert _points(_with(tenure_days=73), "tenure") == pytest.approx(1.0)


def test_missing_data_spreads_its_weight_over_the_rest():
    facts = _with(nps=None, csat=None, ces=None, days_since_activity=None)
    result = score_customer(facts)
    assert result.contribution("surveys").points == 0.0
    assert result.contribution("surveys").subscore is None
    # sentiment's 20 of the 60 weight that has data is 33.3 points
    assert result.contribution("sentiment").max_points == pytest.approx(100 * 20 / 60)
    assert result.score == pytest.approx(100.0)


def test_tuning_a_weight_changes_the_score_as_documented():
    facts = _with(escalations=3)  # escalations sub-score 0, everything else perfect
    assert score_customer(facts).score == pytest.approx(90.0)
    heavier = HealthConfig().with_weights(escalations=40)
    # 40 of a 130 total weight lost: 100 * 90 / 130
    assert score_customer(facts, heavier).score == pytest.approx(100 * 90 / 130)
    ignored = HealthConfig().with_weights(escalations=0)
    assert score_customer(facts, ignored).score == pytest.approx(100.0)


def test_tuning_a_threshold_changes_the_component():
    facts = _with(open_issues=1, reopened_issues=1)
    stricter = HealthConfig(reopened_weight=4.0)  # penalty 5 of 5 -> 0
    assert _points(facts, "issues", stricter) == 0.0


def test_config_from_workspace_settings_rejects_unknown_keys_and_bad_weights():
    cfg = HealthConfig.from_dict({"weights": {"tenure": 10}, "trend_dead_band": 5})
    assert cfg.weights["tenure"] == 10 and cfg.weights["sentiment"] == 20
    assert HealthConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown key"):
        HealthConfig.from_dict({"wieghts": {}})
    with pytest.raises(ValueError, match="unknown component"):
        HealthConfig(weights={"mood": 5})
    with pytest.raises(ValueError, match="weights.tenure"):
        HealthConfig(weights={"tenure": -1})


@pytest.mark.parametrize(
    ("score", "previous", "expected"),
    [
        (70, 60, Trend.UP),
        (60, 70, Trend.DOWN),
        (62, 60, Trend.FLAT),
        (57, 60, Trend.FLAT),  # exactly on the dead band is still flat
        (56.9, 60, Trend.DOWN),
        (60, None, Trend.FLAT),
    ],
)
def test_trend_arrow_has_a_dead_band(score, previous, expected):
    assert trend_arrow(score, previous, dead_band=3.0) == expected


def test_score_reports_trend_and_delta_against_the_previous_score():
    result = score_customer(_with(escalations=3), previous_score=99.0)
    assert result.delta == pytest.approx(-9.0)
    assert result.trend == Trend.DOWN


def _random_facts(rng: np.random.Generator) -> CustomerFacts:
    def maybe(value):
        return None if rng.random() < 0.25 else value

    return CustomerFacts(
        sentiment_recent=maybe(float(rng.uniform(-1, 1))),
        sentiment_previous=maybe(float(rng.uniform(-1, 1))),
        open_issues=int(rng.integers(0, 6)),
        reopened_issues=int(rng.integers(0, 3)),
        contacts_recent=int(rng.integers(0, 8)),
        contacts_baseline=maybe(0.0 if rng.random() < 0.1 else float(rng.uniform(0, 4))),
        nps=maybe(int(rng.integers(0, 11))),
        csat=maybe(int(rng.integers(1, 6))),
        ces=maybe(int(rng.integers(1, 8))),
        days_since_activity=maybe(float(rng.uniform(0, 200))),
        # a zero gap (two purchases on one day) must fall back to the default gap
        usual_gap_days=maybe(0.0 if rng.random() < 0.1 else float(rng.uniform(0, 90))),
        escalations=int(rng.integers(0, 5)),
        tenure_days=float(rng.uniform(0, 1000)),
    )


def test_batch_equals_scalar_on_random_customers():
    rng = np.random.default_rng(7)
    facts = [_random_facts(rng) for _ in range(500)]
    previous = rng.uniform(0, 100, size=len(facts))
    previous[::10] = np.nan
    config = HealthConfig(weights={"surveys": 35, "tenure": 0}, recency_grace_ratio=1.2)
    batch = score_batch(FactsBatch.from_facts(facts), config, previous_scores=previous)
    for i, f in enumerate(facts):
        prev = None if np.isnan(previous[i]) else float(previous[i])
        one = score_customer(f, config, previous_score=prev)
        assert batch.scores[i] == pytest.approx(one.score, abs=1e-9)
        assert batch.points[i] == pytest.approx([c.points for c in one.components], abs=1e-9)
        assert batch.trend_labels()[i] == one.trend


def test_batch_rejects_missing_columns():
    with pytest.raises(ValueError, match="missing column"):
        FactsBatch({"open_issues": np.zeros(3)})
