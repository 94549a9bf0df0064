"""CSV for every table the dashboard shows (headline, series, breakdown, workspaces)."""

from __future__ import annotations

import csv
import io

from .definitions import KPIS

TABLES = ("kpis", "series", "breakdown", "workspaces", "correlations")


def _fmt(value) -> str:
    return "" if value is None else str(value)


def kpi_table(figures: dict) -> list[list[str]]:
    rows = [["kpi", "label", "value", "n", "previous", "change"]]
    for k in KPIS:
        f = figures.get(k.key)
        if f:
            rows.append(
                [
                    k.key,
                    str(k.label),
                    _fmt(f["value"]),
                    _fmt(f["n"]),
                    _fmt(f.get("previous")),
                    _fmt(f.get("change")),
                ]
            )
    if "handle_time" in figures:
        h = figures["handle_time"]
        rows.append(
            [
                "handle_time",
                "Average handle time per conversation: calls and active work (s)",
                _fmt(h["value"]),
                _fmt(h["n"]),
                _fmt(h.get("previous")),
                _fmt(h.get("change")),
            ]
        )
    if "backlog" in figures:
        b = figures["backlog"]
        rows.append(["backlog", "Backlog", _fmt(b["value"]), _fmt(b["n"]), "", ""])
        rows.append(
            [
                "backlog_age_seconds",
                "Backlog mean age (s)",
                _fmt(b["age_seconds"]),
                _fmt(b["n"]),
                "",
                "",
            ]
        )
    return rows


def keyed_table(key_name: str, items: list[dict]) -> list[list[str]]:
    head = [key_name, *[k.key for k in KPIS], *[f"{k.key}_n" for k in KPIS]]
    rows = [head]
    for item in items:
        figures = item["kpis"]
        rows.append(
            [
                _fmt(item["key"]),
                *[_fmt(figures[k.key]["value"]) for k in KPIS],
                *[_fmt(figures[k.key]["n"]) for k in KPIS],
            ]
        )
    return rows


def correlation_table(dots: dict) -> list[list[str]]:
    rows = [["pair", "week", "x", "y", "r", "n"]]
    for name, pair in dots.items():
        for p in pair["points"]:
            rows.append(
                [
                    name,
                    _fmt(p["week"]),
                    _fmt(p["x"]),
                    _fmt(p["y"]),
                    _fmt(pair["r"]),
                    _fmt(pair["n"]),
                ]
            )
        if not pair["points"]:
            rows.append([name, "", "", "", "", "0"])
    return rows


def to_csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        # Neutralise spreadsheet formulas in any cell that starts like one.
        writer.writerow(["'" + c if c[:1] in ("=", "+", "@") else c for c in row])
    return buffer.getvalue()


def table_rows(
    query, table: str, *, by: str = "channel", granularity: str = "week"
) -> list[list[str]]:
    """The rows of one dashboard table for a query (``services.Query``)."""
    from . import engine

    ids, period, filters = query.workspace_ids, query.period, query.filters
    if table == "kpis":
        return kpi_table(engine.kpis(ids, period, filters))
    if table == "series":
        items = [
            {"key": s["start"], "kpis": s["kpis"]}
            for s in engine.series(ids, period, filters, granularity)
        ]
        return keyed_table(granularity, items)
    if table == "breakdown":
        return keyed_table(by, engine.breakdown(ids, period, filters, by))
    if table == "workspaces":
        items = [
            {"key": r["workspace"].slug, "kpis": r["kpis"]}
            for r in engine.per_workspace(query.workspaces, period, query.filters)
        ]
        return keyed_table("workspace", items)
    if table == "correlations":
        return correlation_table(engine.connect_the_dots(ids, period, filters))
    raise ValueError(table)
