"""Formatting KPI figures: "no data" for None, durations in hours, signed changes."""

from __future__ import annotations

from django import template

register = template.Library()


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@register.filter
def kpi(value, unit: str = "") -> str:
    if value is None:
        return "no data"
    if unit == "seconds":
        return _duration(float(value))
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "count":
        return f"{int(value):,}"
    if unit in ("sentiment", "ratio"):
        return f"{value:+.2f}" if unit == "sentiment" else f"{value:.2f}"
    return f"{value:.1f}"


@register.filter
def change(value, unit: str = "") -> str:
    if value is None:
        return ""
    if unit == "seconds":
        return ("+" if value >= 0 else "−") + _duration(abs(float(value)))
    suffix = " pts" if unit in ("%", "score") else ""
    return f"{value:+.1f}{suffix}" if unit != "sentiment" else f"{value:+.2f}"


@register.filter
def lookup(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
