"""The KPIs: how each is derived from the additive measures (see docs/kpis.md).

Every function returns None when its denominator is zero: no data is not zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return None if not den else round(scale * num / den, 4)


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str  # translatable (lazy): str() it where text is needed
    unit: str  # "score", "%", "seconds", "count", "ratio", "sentiment", "points"
    better: str  # "up", "down" or "" (neither)
    headline: bool
    sample: str  # the measure that counts the sample behind the figure
    compute: Callable[[dict], float | None]


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "nps",
        _("NPS"),
        "score",
        "up",
        True,
        "nps_n",
        lambda s: _ratio(s["nps_promoters"] - s["nps_detractors"], s["nps_n"], 100),
    ),
    Kpi(
        "csat",
        _("CSAT (% 4–5)"),
        "%",
        "up",
        True,
        "csat_n",
        lambda s: _ratio(s["csat_satisfied"], s["csat_n"], 100),
    ),
    Kpi(
        "csat_mean",
        _("CSAT mean (1–5)"),
        "score",
        "up",
        False,
        "csat_n",
        lambda s: _ratio(s["csat_sum"], s["csat_n"]),
    ),
    Kpi(
        "ces",
        _("CES mean (1–7)"),
        "score",
        "up",
        True,
        "ces_n",
        lambda s: _ratio(s["ces_sum"], s["ces_n"]),
    ),
    Kpi(
        "ces_easy",
        _("CES % 5–7"),
        "%",
        "up",
        False,
        "ces_n",
        lambda s: _ratio(s["ces_easy"], s["ces_n"], 100),
    ),
    Kpi(
        "response_rate",
        _("Survey response rate"),
        "%",
        "up",
        False,
        "surveys_sent",
        lambda s: _ratio(s["surveys_answered"], s["surveys_sent"], 100),
    ),
    Kpi(
        "fcr",
        _("First-contact resolution"),
        "%",
        "up",
        True,
        "resolved",
        lambda s: _ratio(s["fcr"], s["resolved"], 100),
    ),
    Kpi(
        "first_response",
        _("First response time"),
        "seconds",
        "down",
        True,
        "responded",
        lambda s: _ratio(s["frt_seconds"], s["responded"]),
    ),
    Kpi(
        "first_response_business",
        _("First response (business hours)"),
        "seconds",
        "down",
        True,
        "responded",
        lambda s: _ratio(s["frt_business_seconds"], s["responded"]),
    ),
    Kpi(
        "resolution",
        _("Resolution time"),
        "seconds",
        "down",
        True,
        "resolved",
        lambda s: _ratio(s["res_seconds"], s["resolved"]),
    ),
    Kpi(
        "resolution_business",
        _("Resolution (business hours)"),
        "seconds",
        "down",
        True,
        "resolved",
        lambda s: _ratio(s["res_business_seconds"], s["resolved"]),
    ),
    Kpi(
        "reopen_rate",
        _("Reopen rate"),
        "%",
        "down",
        True,
        "resolved",
        lambda s: _ratio(s["reopened"], s["resolved"], 100),
    ),
    Kpi(
        "handoffs",
        _("Handoffs per conversation"),
        "ratio",
        "down",
        False,
        "resolved",
        lambda s: _ratio(s["handoffs"], s["resolved"]),
    ),
    Kpi(
        "sentiment",
        _("Average end sentiment"),
        "sentiment",
        "up",
        True,
        "sentiment_n",
        lambda s: _ratio(s["sentiment_last_micro"], s["sentiment_n"] * 1_000_000),
    ),
    Kpi(
        "sentiment_change",
        _("Sentiment change (end − start)"),
        "sentiment",
        "up",
        False,
        "sentiment_n",
        lambda s: _ratio(s["sentiment_change_micro"], s["sentiment_n"] * 1_000_000),
    ),
    Kpi("opened", _("Conversations opened"), "count", "", False, "opened", lambda s: s["opened"]),
    Kpi(
        "resolved",
        _("Conversations resolved"),
        "count",
        "",
        False,
        "resolved",
        lambda s: s["resolved"],
    ),
)
BY_KEY = {k.key: k for k in KPIS}
HEADLINE = tuple(k.key for k in KPIS if k.headline)


def derive(sums: dict[str, int]) -> dict[str, dict]:
    """{kpi: {"value": float|None, "n": sample size}} from the summed measures."""
    return {k.key: {"value": k.compute(sums), "n": sums[k.sample]} for k in KPIS}
