"""Customer health score: 0-100, higher is healthier, built from explainable components.

Pure functions over plain facts so the score is testable without a database and can be
recomputed for a whole workspace at once (`score_batch`). Every component turns one kind
of fact into a sub-score in [0, 1] (1 = healthy); its points are its weight times that
sub-score, re-scaled over the components that have data, so the points always add up to
the score and a customer without surveys is not punished for never having been asked.
The formulas and defaults are documented in docs/health.md; keep the two in step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

import numpy as np

COMPONENTS: tuple[str, ...] = (
    "sentiment",
    "issues",
    "contacts",
    "surveys",
    "recency",
    "escalations",
    "tenure",
)

DEFAULT_WEIGHTS: dict[str, float] = {
    "sentiment": 20.0,
    "issues": 15.0,
    "contacts": 10.0,
    "surveys": 20.0,
    "recency": 20.0,
    "escalations": 10.0,
    "tenure": 5.0,
}


class Trend(StrEnum):
    """Arrow shown beside a score against the previous one."""

    UP = "up"
    DOWN = "down"
    FLAT = "flat"


@dataclass(frozen=True)
class HealthConfig:
    """A workspace's tuning of the score; every default is documented in docs/health.md."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    # sentiment: how strongly the change since the previous window moves the sub-score
    sentiment_trend_gain: float = 1.0
    # issues: a reopened case counts this many open cases (a broken promise hurts more)
    reopened_weight: float = 2.0
    issues_saturation: float = 5.0
    # contacts: the least "normal" a customer can have, and the multiple of normal at 0
    contacts_min_expected: float = 1.0
    contacts_saturation_ratio: float = 3.0
    # recency: overdue ratio (days since / usual gap) still fine, and ratio at lapsed
    recency_grace_ratio: float = 1.5
    recency_lapsed_ratio: float = 3.5
    recency_default_gap_days: float = 30.0
    # escalations within the window that bring the sub-score to 0
    escalations_saturation: float = 3.0
    # tenure (days) that earns the full tenure sub-score
    tenure_full_days: float = 365.0
    # trend arrow: changes smaller than this (points) are flat
    trend_dead_band: float = 3.0

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"weights: unknown component(s) {sorted(unknown)}")
        merged = {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in self.weights.items()}}
        for name, value in merged.items():
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"weights.{name}: must be a finite number >= 0, got {value}")
        if sum(merged.values()) <= 0:
            raise ValueError("weights: at least one component needs a positive weight")
        object.__setattr__(self, "weights", merged)
        positive = (
            "issues_saturation",
            "contacts_min_expected",
            "recency_default_gap_days",
            "escalations_saturation",
            "tenure_full_days",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0")
        if not self.contacts_saturation_ratio > 1:
            raise ValueError("contacts_saturation_ratio: must be > 1")
        if not 0 < self.recency_grace_ratio < self.recency_lapsed_ratio:
            raise ValueError("recency_grace_ratio: must be > 0 and < recency_lapsed_ratio")
        if self.reopened_weight < 0 or self.sentiment_trend_gain < 0 or self.trend_dead_band < 0:
            raise ValueError("reopened_weight, sentiment_trend_gain, trend_dead_band: must be >= 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> HealthConfig:
        """Build from a workspace's stored settings (JSON); unknown keys are an error."""
        data = dict(data or {})
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"health settings: unknown key(s) {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["weights"] = dict(self.weights)
        return out

    def with_weights(self, **weights: float) -> HealthConfig:
        return replace(self, weights={**self.weights, **weights})


@dataclass(frozen=True)
class CustomerFacts:
    """What is known about one customer at one moment `now`; durations count back from it.

    `None` means "no data" (the component is left out and its weight re-spread); counts
    default to zero because "no open cases" is a fact, not a gap.
    """

    # mean sentiment (-1..1, e.g. VADER compound) of the customer's messages in the last
    # window (default 30 days) and in the window before it
    sentiment_recent: float | None = None
    sentiment_previous: float | None = None
    # cases open now (reopened ones included) and cases reopened within the window
    open_issues: int = 0
    reopened_issues: int = 0
    # contacts in the last 7 days, and the customer's usual contacts per 7 days
    # (mean over their history before that week); None when there is no history
    contacts_recent: int = 0
    contacts_baseline: float | None = None
    # latest survey answers within the survey window (default 90 days)
    nps: float | None = None  # 0..10
    csat: float | None = None  # 1..5
    ces: float | None = None  # 1..7, higher = easier
    # days since the last purchase / activity, and the customer's median gap between them
    days_since_activity: float | None = None
    usual_gap_days: float | None = None
    # escalations within the window (default 90 days)
    escalations: int = 0
    tenure_days: float = 0.0


@dataclass(frozen=True)
class Contribution:
    """One component's share of the score, with a reason an agent can read."""

    name: str
    points: float
    max_points: float
    subscore: float | None
    reason: str


@dataclass(frozen=True)
class HealthScore:
    score: float
    components: tuple[Contribution, ...]
    trend: Trend
    delta: float | None

    def contribution(self, name: str) -> Contribution:
        for item in self.components:
            if item.name == name:
                return item
        raise KeyError(name)


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def normalise_survey(nps: float | None, csat: float | None, ces: float | None) -> float | None:
    """Mean of the answers present, each mapped linearly onto 0..1."""
    parts = []
    if nps is not None:
        parts.append(_clip01(nps / 10.0))
    if csat is not None:
        parts.append(_clip01((csat - 1.0) / 4.0))
    if ces is not None:
        parts.append(_clip01((ces - 1.0) / 6.0))
    return sum(parts) / len(parts) if parts else None


def trend_arrow(score: float, previous: float | None, dead_band: float = 3.0) -> Trend:
    """Up/down only when the change is beyond the dead band; no previous score is flat."""
    if previous is None:
        return Trend.FLAT
    delta = score - previous
    if delta > dead_band:
        return Trend.UP
    if delta < -dead_band:
        return Trend.DOWN
    return Trend.FLAT


def _subscores(facts: CustomerFacts, cfg: HealthConfig) -> dict[str, tuple[float | None, str]]:
    out: dict[str, tuple[float | None, str]] = {}

    if facts.sentiment_recent is None:
        out["sentiment"] = (None, "no messages to read yet")
    else:
        recent = facts.sentiment_recent
        previous = recent if facts.sentiment_previous is None else facts.sentiment_previous
        change = recent - previous
        sub = _clip01((recent + 1.0) / 2.0 + cfg.sentiment_trend_gain * change / 2.0)
        if facts.sentiment_previous is None:
            reason = f"sentiment {recent:+.2f}"
        else:
            word = "falling" if change < 0 else "rising" if change > 0 else "steady"
            reason = f"sentiment {recent:+.2f}, was {previous:+.2f} ({word})"
        out["sentiment"] = (sub, reason)

    penalty = facts.open_issues + cfg.reopened_weight * facts.reopened_issues
    out["issues"] = (
        _clip01(1.0 - penalty / cfg.issues_saturation),
        f"{facts.open_issues} open, {facts.reopened_issues} reopened",
    )

    expected = max(facts.contacts_baseline or 0.0, cfg.contacts_min_expected)
    ratio = facts.contacts_recent / expected
    sub = (
        1.0
        if ratio <= 1.0
        else _clip01(1.0 - (ratio - 1.0) / (cfg.contacts_saturation_ratio - 1.0))
    )
    usual = (
        "no usual yet"
        if facts.contacts_baseline is None
        else f"usual {facts.contacts_baseline:.1f}"
    )
    out["contacts"] = (sub, f"{facts.contacts_recent} contacts this week ({usual})")

    survey = normalise_survey(facts.nps, facts.csat, facts.ces)
    if survey is None:
        out["surveys"] = (None, "no recent survey answer")
    else:
        said = [
            f"{label} {value:g}"
            for label, value in (("NPS", facts.nps), ("CSAT", facts.csat), ("CES", facts.ces))
            if value is not None
        ]
        out["surveys"] = (survey, ", ".join(said))

    if facts.days_since_activity is None:
        out["recency"] = (None, "no purchase or activity yet")
    else:
        gap = facts.usual_gap_days
        if gap is None or not gap > 0:
            gap = cfg.recency_default_gap_days
        overdue = facts.days_since_activity / gap
        span = cfg.recency_lapsed_ratio - cfg.recency_grace_ratio
        sub = _clip01(1.0 - (overdue - cfg.recency_grace_ratio) / span)
        out["recency"] = (
            sub,
            f"{facts.days_since_activity:g} days since last activity (usual gap {gap:g})",
        )

    out["escalations"] = (
        _clip01(1.0 - facts.escalations / cfg.escalations_saturation),
        f"{facts.escalations} escalation(s) recently",
    )
    out["tenure"] = (
        _clip01(facts.tenure_days / cfg.tenure_full_days),
        f"customer for {facts.tenure_days:g} days",
    )
    return out


def score_customer(
    facts: CustomerFacts,
    config: HealthConfig | None = None,
    previous_score: float | None = None,
) -> HealthScore:
    """Score one customer and explain every point."""
    cfg = config or HealthConfig()
    subs = _subscores(facts, cfg)
    available = sum(cfg.weights[name] for name, (sub, _) in subs.items() if sub is not None)
    # counts-based components always have data, so `available` is 0 only if a workspace
    # weighted nothing but absent components: score a neutral 50 rather than divide by 0
    scale = 100.0 / available if available > 0 else 0.0
    parts = []
    for name in COMPONENTS:
        sub, reason = subs[name]
        max_points = cfg.weights[name] * scale
        points = 0.0 if sub is None else max_points * sub
        parts.append(Contribution(name, points, 0.0 if sub is None else max_points, sub, reason))
    score = sum(p.points for p in parts) if available > 0 else 50.0
    delta = None if previous_score is None else score - previous_score
    return HealthScore(
        score=score,
        components=tuple(parts),
        trend=trend_arrow(score, previous_score, cfg.trend_dead_band),
        delta=delta,
    )


# --- batch: the same formulas over numpy arrays, NaN standing for None ---------------

_BATCH_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CustomerFacts))


@dataclass
class FactsBatch:
    """Column arrays of `CustomerFacts` for many customers; NaN marks "no data"."""

    columns: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        missing = set(_BATCH_FIELDS) - set(self.columns)
        if missing:
            raise ValueError(f"facts batch: missing column(s) {sorted(missing)}")
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError("facts batch: columns differ in length")
        self.columns = {k: np.asarray(self.columns[k], dtype=np.float64) for k in _BATCH_FIELDS}

    def __len__(self) -> int:
        return len(self.columns[_BATCH_FIELDS[0]])

    @classmethod
    def from_facts(cls, facts: Sequence[CustomerFacts]) -> FactsBatch:
        cols = {
            name: np.array(
                [np.nan if (v := getattr(f, name)) is None else v for f in facts],
                dtype=np.float64,
            )
            for name in _BATCH_FIELDS
        }
        return cls(cols)


@dataclass(frozen=True)
class BatchScores:
    """Scores for many customers; `points[:, i]` is component `COMPONENTS[i]`."""

    scores: np.ndarray
    points: np.ndarray
    trend: np.ndarray  # int8: 1 up, -1 down, 0 flat

    def trend_labels(self) -> list[Trend]:
        names = {1: Trend.UP, -1: Trend.DOWN, 0: Trend.FLAT}
        return [names[int(t)] for t in self.trend]


def score_batch(
    batch: FactsBatch,
    config: HealthConfig | None = None,
    previous_scores: np.ndarray | None = None,
) -> BatchScores:
    """Vectorised `score_customer` for recomputing a whole workspace at once."""
    cfg = config or HealthConfig()
    c = batch.columns
    n = len(batch)

    recent = c["sentiment_recent"]
    previous = np.where(np.isnan(c["sentiment_previous"]), recent, c["sentiment_previous"])
    sentiment = np.clip(
        (recent + 1.0) / 2.0 + cfg.sentiment_trend_gain * (recent - previous) / 2.0, 0.0, 1.0
    )  # NaN stays NaN where there is no recent sentiment

    penalty = c["open_issues"] + cfg.reopened_weight * c["reopened_issues"]
    issues = np.clip(1.0 - penalty / cfg.issues_saturation, 0.0, 1.0)

    expected = np.maximum(np.nan_to_num(c["contacts_baseline"], nan=0.0), cfg.contacts_min_expected)
    ratio = c["contacts_recent"] / expected
    contacts = np.where(
        ratio <= 1.0,
        1.0,
        np.clip(1.0 - (ratio - 1.0) / (cfg.contacts_saturation_ratio - 1.0), 0.0, 1.0),
    )

    answers = np.stack(
        [
            np.clip(c["nps"] / 10.0, 0.0, 1.0),
            np.clip((c["csat"] - 1.0) / 4.0, 0.0, 1.0),
            np.clip((c["ces"] - 1.0) / 6.0, 0.0, 1.0),
        ]
    )
    answered = (~np.isnan(answers)).sum(axis=0)
    surveys = np.where(answered > 0, np.nansum(answers, axis=0) / np.maximum(answered, 1), np.nan)

    gap = c["usual_gap_days"]
    gap = np.where(np.isnan(gap) | ~(gap > 0), cfg.recency_default_gap_days, gap)
    overdue = c["days_since_activity"] / gap
    span = cfg.recency_lapsed_ratio - cfg.recency_grace_ratio
    recency = np.clip(1.0 - (overdue - cfg.recency_grace_ratio) / span, 0.0, 1.0)

    escalations = np.clip(1.0 - c["escalations"] / cfg.escalations_saturation, 0.0, 1.0)
    tenure = np.clip(c["tenure_days"] / cfg.tenure_full_days, 0.0, 1.0)

    subs = np.stack([sentiment, issues, contacts, surveys, recency, escalations, tenure], axis=1)
    weights = np.array([cfg.weights[name] for name in COMPONENTS])
    has = ~np.isnan(subs)
    available = (has * weights).sum(axis=1)
    scale = np.divide(100.0, available, out=np.zeros(n), where=available > 0)
    points = np.where(has, np.nan_to_num(subs) * weights, 0.0) * scale[:, None]
    scores = np.where(available > 0, points.sum(axis=1), 50.0)

    trend = np.zeros(n, dtype=np.int8)
    if previous_scores is not None:
        prev = np.asarray(previous_scores, dtype=np.float64)
        delta = scores - prev
        trend[delta > cfg.trend_dead_band] = 1
        trend[delta < -cfg.trend_dead_band] = -1
    return BatchScores(scores=scores, points=points, trend=trend)
