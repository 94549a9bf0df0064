"""Roll-ups maintained incrementally equal a from-scratch computation on generated data."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from tests.factories import CustomerFactory, MemberFactory, TeamFactory, WorkspaceFactory
from warmline.conversations.models import Conversation
from warmline.insights import engine
from warmline.insights.engine import Filters, Period
from warmline.insights.models import MEASURES, ConversationContribution, DailyRollup, DailyTotal
from warmline.insights.reference import sums_from_scratch
from warmline.insights.rollups import rebuild_workspace, refresh_conversation

from .helpers import answer

START = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def _generate(workspace, rng: random.Random, n: int) -> list[Conversation]:
    teams = [TeamFactory(workspace=workspace) for _ in range(2)]
    owners = [MemberFactory(workspace=workspace) for _ in range(3)]
    customers = [
        CustomerFactory(workspace=workspace, tier=rng.choice(["standard", "gold"]))
        for _ in range(20)
    ]
    convs = []
    for i in range(n):
        opened = START + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 50))
        status = rng.choice(["open", "pending", "resolved", "resolved", "closed"])
        resolved = opened + dt.timedelta(minutes=rng.randrange(1, 60 * 24 * 6))
        first = opened + dt.timedelta(minutes=rng.randrange(1, 600)) if rng.random() < 0.8 else None
        has_sentiment = rng.random() < 0.7
        c = Conversation.objects.create(
            workspace=workspace,
            number=i + 1,
            customer=rng.choice(customers),
            status=status,
            channel=rng.choice(["email", "chat", "sms"]),
            team=rng.choice([*teams, None]),
            owner=rng.choice([*owners, None]),
            opened_at=opened,
            last_activity_at=opened,
            first_response_at=first,
            resolved_at=resolved if status in ("resolved", "closed") else None,
            customer_message_count=rng.choice([1, 1, 2, 4]),
            reopen_count=rng.choice([0, 0, 0, 1]),
            handoff_count=rng.choice([0, 0, 1, 2]),
            sentiment_first=round(rng.uniform(-1, 1), 3) if has_sentiment else None,
            sentiment_last=round(rng.uniform(-1, 1), 3) if has_sentiment else None,
        )
        if c.resolved_at and rng.random() < 0.5:
            kind = rng.choice(["nps", "csat", "ces"])
            score = {"nps": rng.randint(0, 10), "csat": rng.randint(1, 5), "ces": rng.randint(1, 7)}
            answer(c, kind, score[kind], c.resolved_at + dt.timedelta(hours=rng.randint(1, 72)))
        convs.append(c)
    return convs


PERIODS = [
    Period(dt.date(2026, 2, 1), dt.date(2026, 3, 31)),
    Period(dt.date(2026, 2, 10), dt.date(2026, 2, 16)),
    Period(dt.date(2026, 3, 1), dt.date(2026, 3, 1)),
]


def _check(workspaces):
    ids = [w.pk for w in workspaces]
    for period in PERIODS:
        for filters in (Filters(), Filters(channel="chat"), Filters(tier="gold")):
            assert engine.sums(ids, period, filters) == sums_from_scratch(ids, period, filters)
    for w in workspaces:
        for period in PERIODS[:2]:
            team = w.pk and engine.breakdown([w.pk], period, by="team_id")
            for row in team:
                if row["key"]:
                    f = Filters(team_id=row["key"])
                    assert engine.sums([w.pk], period, f) == sums_from_scratch([w.pk], period, f)


@pytest.mark.django_db
def test_incremental_rollups_equal_from_scratch():
    rng = random.Random(7)
    madrid = WorkspaceFactory(time_zone="Europe/Madrid", holidays=["2026-02-16"])
    tokyo = WorkspaceFactory(time_zone="Asia/Tokyo")
    convs = _generate(madrid, rng, 100) + _generate(tokyo, rng, 60)
    for c in convs:
        refresh_conversation(c.pk)
    _check([madrid, tokyo])
    assert engine.sums([madrid.pk], PERIODS[0])["resolved"] > 30

    # Changes after the first refresh: reopen, resolve later, hand off, new answers, merges.
    for c in rng.sample(convs, 40):
        action = rng.choice(["reopen", "resolve", "handoff", "answer", "merge"])
        if action == "reopen" and c.resolved_at:
            c.status, c.resolved_at, c.reopen_count = "open", None, c.reopen_count + 1
        elif action == "resolve":
            c.status = "resolved"
            c.resolved_at = c.opened_at + dt.timedelta(days=rng.randint(1, 9))
        elif action == "handoff":
            c.owner, c.handoff_count = None, c.handoff_count + 1
        elif action == "answer":
            answer(c, "csat", rng.randint(1, 5), c.opened_at + dt.timedelta(days=2))
        elif action == "merge":
            c.merged_into = convs[0] if c.pk != convs[0].pk else None
        c.save()
        refresh_conversation(c.pk)
    _check([madrid, tokyo])

    # A full rebuild lands on the same figures.
    before = {p: engine.sums([madrid.pk, tokyo.pk], p) for p in PERIODS}
    rebuild_workspace(madrid)
    rebuild_workspace(tokyo)
    assert {p: engine.sums([madrid.pk, tokyo.pk], p) for p in PERIODS} == before


@pytest.mark.django_db
def test_deleted_conversation_takes_back_its_share():
    rng = random.Random(3)
    w = WorkspaceFactory()
    convs = _generate(w, rng, 30)
    for c in convs:
        refresh_conversation(c.pk)
    victim = next(c for c in convs if c.resolved_at)
    victim_id = victim.pk
    victim.delete()
    refresh_conversation(victim_id)
    for period in PERIODS:
        assert engine.sums([w.pk], period) == sums_from_scratch([w.pk], period)


def _tables(workspace) -> tuple:
    rollups = sorted(
        DailyRollup.objects.filter(workspace=workspace).values_list(
            "day", "team_id", "owner_id", "channel", "tier", *MEASURES
        )
    )
    totals = sorted(DailyTotal.objects.filter(workspace=workspace).values_list("day", *MEASURES))
    contributions = dict(
        ConversationContribution.objects.filter(workspace=workspace).values_list(
            "conversation_id", "buckets"
        )
    )
    return rollups, totals, contributions


@pytest.mark.django_db
def test_vectorised_rebuild_writes_exactly_what_the_incremental_path_wrote():
    """Same buckets, same per-day totals, same stored contributions, to the microsecond
    (timestamps with microseconds, half-second durations, a DST switch, a holiday)."""
    rng = random.Random(11)
    w = WorkspaceFactory(time_zone="America/New_York", holidays=["2026-03-09"])
    convs = _generate(w, rng, 80)
    for c in convs:
        shift = dt.timedelta(microseconds=rng.choice([0, 500_000, 499_999, rng.randrange(10**6)]))
        c.opened_at += shift
        if c.first_response_at:
            c.first_response_at += dt.timedelta(
                seconds=rng.randrange(3), microseconds=rng.randrange(10**6)
            )
        c.save()
        refresh_conversation(c.pk)
    incremental = _tables(w)
    assert incremental[0] and incremental[1]
    # Per-day totals are the dimension buckets summed.
    by_day: dict = {}
    for row in incremental[0]:
        day, amounts = row[0], row[5:]
        by_day[day] = [
            a + b for a, b in zip(by_day.get(day, [0] * len(MEASURES)), amounts, strict=True)
        ]
    assert sorted((d, *v) for d, v in by_day.items()) == [r for r in incremental[1] if any(r[1:])]
    rebuild_workspace(w)
    rebuilt = _tables(w)
    assert rebuilt[0] == incremental[0]
    assert [r for r in rebuilt[1] if any(r[1:])] == [r for r in incremental[1] if any(r[1:])]
    assert rebuilt[2] == incremental[2]
