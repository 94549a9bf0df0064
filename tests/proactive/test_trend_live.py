"""The live detector (``services.assign_message`` → ``live.check``) against the replay:
real database rows, real ingest, the worker's cache of the watched messages."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import numpy as np
import pytest

from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.proactive import live, services
from warmline.proactive.models import TopicMessage, Trend, TrendSettings
from warmline.proactive.topics import TopicStore, default_encoder
from warmline.proactive.trends import DAY, HOUR, TrendConfig, TrendDetector, replay

from ._texts import BACKGROUND, CHEQUE

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
REFUND_LATE = [  # a burst of the old refund issue (within 0.7 of it): only the rise test sees it
    "refund still missing after a week",
    "where is my refund",
    "refund has not arrived yet",
    "still waiting on my refund",
    "my refund is late",
    "refund not received",
]


def stream(*, seed: int, days: float, per_day: float, bursts: list[tuple[float, list[str]]]):
    """Records (id, customer, text, time as a datetime): five steady issues, then bursts
    of different customers ``(day, texts)`` a quarter to half an hour apart."""
    rng = random.Random(seed)
    events = []
    for texts in BACKGROUND.values():
        t = 0.0
        while (t := t + rng.expovariate(per_day / DAY)) < days * DAY:
            events.append((t, rng.choice(texts)))
    for day, texts in bursts:
        t = day * DAY
        for text in texts:
            t += rng.uniform(0.2, 0.6) * HOUR
            events.append((t, text))
    events.sort()
    return [
        {
            "id": f"m{n}",
            "customer": f"c{rng.randrange(10**6)}",
            "text": text,
            "time": T0 + dt.timedelta(seconds=round(t, 3)),
        }
        for n, (t, text) in enumerate(events)
    ]


def ingest(workspace, capture, records) -> dict[int, str]:
    """Every record through the real ingest path (the signal runs assign_message);
    answers timeline entry id → record id."""
    entries = {}
    for r in records:
        with capture(execute=True):
            result = conversations.ingest(
                workspace=workspace,
                message=InboundMessage(
                    channel="email",
                    text=r["text"],
                    sender=Sender(email=f"{r['customer']}@example.org", name=r["customer"]),
                    external_id=r["id"],
                    sent_at=r["time"],
                ),
            )
        entries[result.entry.pk] = r["id"]
    return entries


def flagged_live(workspace, entries) -> list[tuple[str, str, dict]]:
    return [
        (entries[t.detail["at_entry"]], t.reason, t.detail)
        for t in Trend.objects.filter(workspace=workspace).order_by("flagged_at", "id")
    ]


@pytest.mark.parametrize("beside", ["off", "default"])
def test_live_path_flags_what_the_replay_flags(
    workspace, django_capture_on_commit_callbacks, monkeypatch, beside
):
    """Same stream, default thresholds: 17 days of five steady issues (~3 customers a day
    each), a previously unseen issue on day 16 and a burst of an old issue on day
    16.5. The live path must flag the same messages for the same reasons, with the same
    members and the local test's own figures (k, window, p), on the same densities.
    With the radius rise test beside the local one (the default) it sees the old issue's
    burst first; without it, the local test does."""
    records = stream(seed=2, days=17, per_day=3, bursts=[(16, CHEQUE[:4]), (16.5, REFUND_LATE)])
    config = TrendConfig()
    if beside == "off":
        config = replace(config, rise_alpha_beside_local=None)
        real = services.detector_config
        monkeypatch.setattr(
            services, "detector_config", lambda s: replace(real(s), rise_alpha_beside_local=None)
        )
    events = list(
        replay(
            ({**r, "time": r["time"].timestamp()} for r in records),
            config=config,
            store=TopicStore(),
        )
    )
    expected = [(e["at_message"], e["reason"], e.get("detail", {})) for e in events]
    assert [reason for _, reason, _ in expected] == ["new_topic", "volume_rise"]
    # The local rise test reports its k nearest; the radius test its baseline customers.
    assert ("nearest" in expected[1][2]) == (beside == "off")
    flagged_members = []
    flag = services._flag

    def spy(workspace, topic, entry, reason, detail, members, centroid):
        flagged_members.append({m[1] for m in members})  # timeline entry ids
        return flag(workspace, topic, entry, reason, detail, members, centroid)

    monkeypatch.setattr(services, "_flag", spy)
    entries = ingest(workspace, django_capture_on_commit_callbacks, records)
    got = flagged_live(workspace, entries)
    assert [(m, reason) for m, reason, _ in got] == [(m, reason) for m, reason, _ in expected]
    for (_, _, want), (_, _, have) in zip(expected, got, strict=True):
        for key in ("observed", "window_hours", "nearest", "baseline_customers", "expected"):
            assert have.get(key) == want.get(key)
        if "p_value" in want:
            assert have["p_value"] == pytest.approx(want["p_value"], rel=1e-4)
    assert [{entries[e] for e in m} for m in flagged_members] == [set(e["members"]) for e in events]
    # Every watched message's density, as the worker's cache holds it, is the replay's.
    detector = TrendDetector()
    vectors = default_encoder().encode([r["text"] for r in records])
    for r, v in zip(records, vectors, strict=True):
        detector.observe(
            topic_id=0,
            message=r["id"],
            customer=r["customer"],
            time=r["time"].timestamp(),
            vector=v,
        )
    replayed_density = {
        x.message: float(detector._recent.density[i])
        for i, x in enumerate(detector._recent.contacts)
    }
    cache = live._cache[workspace.pk]
    record_of_row = dict(
        TopicMessage.objects.filter(workspace=workspace).values_list("pk", "entry_id")
    )
    held = [
        (entries[record_of_row[int(pk)]], float(d))
        for pk, d in zip(
            cache.pks[cache.lo : cache.n], cache.density[cache.lo : cache.n], strict=True
        )
    ]
    assert len(held) > 200
    for record_id, density in held:
        assert density == pytest.approx(replayed_density[record_id], abs=1e-5)


CRASH = [
    "The app crashes when I open my statement",
    "My app keeps crashing when I open statements",
    "The app crashes when I open the statement",
    "app crashes when I open my statement, please help",
    "the app crashes as soon as I open my statement",
    "statement screen crashes the app",
    "opening my statement crashes the app",
    "the app crashed when i tried to open my statement",
    "app crashing on the statement page",
    "every time i open a statement the app crashes",
]


def young_stream(seed: int = 0) -> tuple[list[dict], list[str]]:
    """A 5-day-old workspace (~130 messages): five steady issues at ~5 customers a day
    each, the app-crash issue seen five times, then ten customers report it within ~2 h."""
    rng = random.Random(seed)
    events = []
    for texts in BACKGROUND.values():
        t = 0.0
        while (t := t + rng.expovariate(5 / DAY)) < 5 * DAY:
            events.append((t, rng.choice(texts), False))
    for k in range(5):
        events.append(((k + 0.5) * 5 * DAY / 5.5, CRASH[rng.randrange(3)], False))
    t = 5 * DAY
    for text in CRASH:
        t += rng.uniform(5, 15) * 60
        events.append((t, text, True))
    events.sort()
    records = [
        {
            "id": f"m{n}",
            "customer": f"c{n}",
            "text": text,
            "time": T0 + dt.timedelta(seconds=round(t, 3)),
        }
        for n, (t, text, _) in enumerate(events)
    ]
    return records, [r["id"] for r, e in zip(records, events, strict=True) if e[2]]


def test_young_workspace_keeps_the_radius_test(workspace, django_capture_on_commit_callbacks):
    """Five days of history: the densities are measured on pasts of a few days, and the
    local test alone flags this burst of a known issue only at its 6th message. The
    fallback (the radius rise test while the workspace is younger than one watched
    period) flags it at the 4th."""
    TrendSettings.objects.create(workspace=workspace, warmup_days=1)
    records, burst = young_stream()
    assert len(records) == 133
    # The local test alone (the replay's detector on the same vectors): late.
    vectors = default_encoder().encode([r["text"] for r in records])
    alone = TrendDetector(TrendConfig(warmup=DAY, rise_alpha_beside_local=None))
    late = None
    for r, v in zip(records, vectors, strict=True):
        for e in alone.observe(
            topic_id=1,
            message=r["id"],
            customer=r["customer"],
            time=r["time"].timestamp(),
            vector=v,
        ):
            if late is None and e.event == "flagged" and e.at_message in burst:
                late = burst.index(e.at_message) + 1
    assert late == 6
    entries = ingest(workspace, django_capture_on_commit_callbacks, records)
    flags = [(m, reason, d) for m, reason, d in flagged_live(workspace, entries) if m in burst]
    assert flags, "the burst was not flagged"
    at, reason, detail = flags[0]
    assert burst.index(at) + 1 == 4
    assert reason == "volume_rise" and "nearest" not in detail  # the radius test's flag


def test_the_cache_is_the_database_and_a_restarted_worker_rebuilds_it(
    workspace, django_capture_on_commit_callbacks
):
    """The worker's incremental cache (synced message by message, some filed out of time
    order) holds what a fresh worker loads from the database, with the same densities;
    a row deleted behind its back makes it reload."""
    records = stream(seed=2, days=20, per_day=2, bursts=[])
    late = records[150:153]  # filed an hour after their successors
    order = records[:150] + records[153:160] + late + records[160:]
    ingest(workspace, django_capture_on_commit_callbacks, order)
    config = TrendConfig()
    dims = default_encoder().dims
    last = TopicMessage.objects.filter(workspace=workspace).order_by("pk").last()
    kept = live.watched(workspace.pk, dims, config)
    assert kept.loaded and len(kept) > 100  # the ingest above filled it
    kept.sync(below=last.pk + 1, now=last.occurred_at)
    fresh = live.Watched(workspace.pk, dims, live.watched_span(config), config.density_k)
    fresh.sync(below=last.pk + 1, now=last.occurred_at)
    rows = slice(kept.lo, kept.n), slice(fresh.lo, fresh.n)
    assert kept.pks[rows[0]].tolist() == fresh.pks[rows[1]].tolist()
    assert np.all(np.diff(kept.times[rows[0]]) >= 0)  # kept in time order
    watched_from = last.occurred_at - dt.timedelta(seconds=live.watched_span(config))
    assert kept.floor == fresh.floor == watched_from - live.SLACK  # a day's slack kept
    assert sorted(kept.pks[rows[0]].tolist()) == sorted(
        TopicMessage.objects.filter(workspace=workspace, occurred_at__gte=kept.floor).values_list(
            "pk", flat=True
        )
    )
    assert np.allclose(kept.density[rows[0]], fresh.density[rows[1]], atol=1e-5)
    assert np.allclose(kept.vectors[rows[0]], fresh.vectors[rows[1]])
    # The oldest watched rows' densities were measured on their own full past: the fresh
    # worker read the period before the watched one to get them.
    assert fresh.density[fresh.lo] > 0.3
    gone = int(kept.pks[kept.lo + 5])
    TopicMessage.objects.filter(pk=gone).delete()
    kept.sync(below=last.pk + 1, now=last.occurred_at)
    assert gone not in kept.pks[kept.lo : kept.n].tolist()
    assert len(kept) == len(fresh) - 1


def test_a_restarted_worker_reads_stored_densities_and_measures_only_the_rest(
    workspace, django_capture_on_commit_callbacks, monkeypatch
):
    """Each checked message keeps the density the cache measured for it; a worker that
    measures everything from scratch gets the same values, writes them back, and the
    next restart measures nothing — unless the density settings changed."""
    ingest(
        workspace, django_capture_on_commit_callbacks, stream(seed=3, days=20, per_day=2, bursts=[])
    )
    config = TrendConfig()
    dims, span = default_encoder().dims, live.watched_span(config)
    last = TopicMessage.objects.filter(workspace=workspace).order_by("pk").last()
    basis = live.density_basis(config.density_k, span)
    checked = dict(
        TopicMessage.objects.filter(workspace=workspace, density_basis=basis).values_list(
            "pk", "density"
        )
    )
    assert len(checked) > 100  # checked after the warm-up, or measured by its first rebuild

    TopicMessage.objects.filter(workspace=workspace).update(density=None, density_basis="")
    measured = live.Watched(workspace.pk, dims, span, config.density_k)
    measured.sync(below=last.pk + 1, now=last.occurred_at)
    held = dict(
        zip(
            measured.pks[measured.lo : measured.n].tolist(),
            measured.density[measured.lo : measured.n].tolist(),
            strict=True,
        )
    )
    both = set(checked) & set(held)
    assert len(both) > 100
    for pk in both:
        assert held[pk] == pytest.approx(checked[pk], abs=1e-6)

    calls = []
    measure = live.trend_math.local_density

    def counted(sims, k):
        calls.append(k)
        return measure(sims, k)

    monkeypatch.setattr(live.trend_math, "local_density", counted)
    again = live.Watched(workspace.pk, dims, span, config.density_k)
    again.sync(below=last.pk + 1, now=last.occurred_at)
    assert calls == []
    assert np.array_equal(
        again.density[again.lo : again.n], measured.density[measured.lo : measured.n]
    )

    other = live.Watched(workspace.pk, dims, span, config.density_k + 2)
    other.sync(below=last.pk + 1, now=last.occurred_at)
    assert len(calls) == len(other) and set(calls) == {config.density_k + 2}
    assert set(
        TopicMessage.objects.filter(workspace=workspace, pk__in=list(held)).values_list(
            "density_basis", flat=True
        )
    ) == {live.density_basis(config.density_k + 2, span)}


def test_cache_arrays_stay_sorted_and_bounded():
    """Rows inserted in filing order (some late), old ones expired from the front: the
    arrays stay sorted by time, keep every live row with its vector, and are compacted
    rather than grown while the live count is steady."""
    rng = np.random.default_rng(0)
    state = live.Watched(1, 4, span=100.0, density_k=10)
    kept: dict[int, float] = {}
    capacities = []
    for pk in range(1, 20_001):
        t = pk - (rng.uniform(0, 30) if pk % 7 == 0 else 0.0)  # every 7th is up to 30 late
        state._insert(pk, pk, pk % 50, t, np.full(4, pk, np.float32), 0.5)
        kept[pk] = t
        if pk % 100 == 0:  # what sync does: drop rows older than the period
            cut = pk - 3000.0
            state.lo += int(np.searchsorted(state.times[state.lo : state.n], cut, side="left"))
            kept = {k: v for k, v in kept.items() if v >= cut}
            capacities.append(len(state.pks))
    rows = slice(state.lo, state.n)
    assert np.all(np.diff(state.times[rows]) >= 0)
    assert sorted(state.pks[rows].tolist()) == sorted(kept)
    assert np.array_equal(state.vectors[rows][:, 0], state.pks[rows].astype(np.float32))
    assert state.times[rows].tolist() == sorted(kept.values())
    assert max(capacities[-50:]) <= 1.3 * 3000 + 64  # steady: compacted, not grown


@pytest.mark.django_db(transaction=True)
def test_threads_of_one_worker_share_the_cache_safely(workspace, monkeypatch):
    """Eight threads check the same next message of a workspace at once with an empty
    cache: one rebuilds it under the workspace's lock, the others sync after it; all get
    the same answer and the cache holds each row once."""
    import threading

    from django.db import connection

    from tests.factories import ConversationFactory, CustomerFactory
    from warmline.conversations.models import EntryKind, TimelineEntry
    from warmline.proactive.models import Topic

    records = stream(seed=3, days=9, per_day=4, bursts=[(8.5, CHEQUE[:3])])
    third = next(n for n, r in enumerate(records) if r["text"] == CHEQUE[2])
    records = records[: third + 1]  # the last one is checked: the third cheque report
    vectors = default_encoder().encode([r["text"] for r in records])
    topic = Topic.objects.create(workspace=workspace, vector_sum=b"")
    customers = {}
    for r, v in zip(records[:-1], vectors, strict=False):
        customer = customers.get(r["customer"]) or CustomerFactory(workspace=workspace)
        customers[r["customer"]] = customer
        conversation = ConversationFactory(customer=customer)
        entry = TimelineEntry.objects.create(
            workspace=workspace,
            conversation=conversation,
            kind=EntryKind.CUSTOMER_MESSAGE,
            author_customer=customer,
            text=r["text"],
            occurred_at=r["time"],
        )
        TopicMessage.objects.create(
            workspace=workspace,
            topic=topic,
            entry=entry,
            conversation=conversation,
            customer=customer,
            occurred_at=r["time"],
            vector=v.tobytes(),
        )
    below = TopicMessage.objects.order_by("pk").last().pk + 1
    config = TrendConfig(warmup=DAY)
    ask = dict(
        workspace_id=workspace.pk,
        message=below,
        customer=-1,
        now=records[-1]["time"],
        start=records[0]["time"],
        vector=vectors[-1],
        config=config,
    )
    answers, errors, barrier = [], [], threading.Barrier(8)
    rebuilds = []
    rebuild = live.Watched.rebuild

    def counted(self, **kw):
        rebuilds.append(threading.get_ident())
        return rebuild(self, **kw)

    monkeypatch.setattr(live.Watched, "rebuild", counted)

    def worker():
        try:
            barrier.wait()
            found = live.check(**ask)
            answers.append(None if found is None else (found.reason, sorted(found.members)))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(answers) == 8
    assert answers[0] is not None and answers[0][0] == "new_topic"  # the third cheque report
    assert all(a == answers[0] for a in answers)
    assert len(rebuilds) == 1  # the others waited for it and found the cache loaded
    state = live._cache[workspace.pk]
    held = state.pks[state.lo : state.n].tolist()
    assert len(held) == len(set(held)) == len(records) - 1
