"""Cost of the live trend detector (``services.assign_message`` → ``live.check``) on a
workspace with ~6,000 watched messages, the size of ``bench/trends.py``'s stream.

    .venv/bin/python bench/trends_live.py [--messages 400] [--held-out get_physical_card --seed 4]

Writes ``live_detection`` into ``bench/results/trends.json`` (other keys kept).

A fresh SQLite file (``bench/.data/trends-live.sqlite3``) gets one workspace with the
emergence stream's first 20 days (Banking77 texts, ~400 customers a day; the burst starts
on day 21) as filed messages: timeline entries, customers, one topic per intent, and the
``TopicMessage`` rows with the shipped encoder's vectors. Then the next ``--messages``
messages are filed one by one through ``services.assign_message``, as the background task
files them, and timed:

- ``live_detect_ms_per_msg``: ``live.check`` alone (sync of the new row into the worker's
  cache, the ``COUNT`` that checks the cache, the neighbourhood, the rules and the local
  test); median, mean and 95th percentile; the first call is the cold rebuild and is
  reported apart (``cold_rebuild_ms``: a worker loading two watched periods and
  measuring the densities of the prefilled rows, which have none stored, and writing
  them back);
- ``restart_rebuild_ms``: after the timed messages, the cache dropped and loaded again,
  as a restarted worker does: every held row now has its density stored (by the check
  that filed it, or by the cold rebuild), so it is read, not measured;
- ``assign_ms_per_msg``: the whole ``assign_message`` (encode, topic choice under the
  topic locks, the row, the label refresh, follow check and detection), for context.

One process, one BLAS thread. The 1-minute load average is recorded (shared machine).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import merge_result, setup_django  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT / "bench" / ".data"
RESULT = ROOT / "bench" / "results" / "trends.json"
PREFILL_DAYS = 20


def build(records: list[dict], prefill: int):
    """The workspace, every record as a customer message, the first ``prefill`` filed."""
    from django.core.management import call_command

    from warmline.conversations.models import Conversation, EntryKind, TimelineEntry
    from warmline.customers.models import Customer
    from warmline.proactive.models import Topic, TopicMessage
    from warmline.proactive.topics import default_encoder
    from warmline.tenancy.models import Workspace

    call_command("migrate", verbosity=0)
    ws = Workspace.objects.create(name="Bench", slug="bench", time_zone="UTC")
    names = sorted({r["customer"] for r in records})
    Customer.objects.bulk_create([Customer(workspace=ws, name=n) for n in names], batch_size=2000)
    customer = dict(Customer.objects.filter(workspace=ws).values_list("name", "pk"))
    first_at: dict[str, datetime] = {}
    for r in records:
        first_at.setdefault(r["customer"], r["at"])
    Conversation.objects.bulk_create(
        [
            Conversation(
                workspace=ws,
                customer_id=customer[n],
                number=k + 1,
                channel="email",
                opened_at=first_at[n],
                last_activity_at=first_at[n],
            )
            for k, n in enumerate(names)
        ],
        batch_size=2000,
    )
    conversation = dict(Conversation.objects.filter(workspace=ws).values_list("customer_id", "pk"))
    TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                workspace=ws,
                conversation_id=conversation[customer[r["customer"]]],
                kind=EntryKind.CUSTOMER_MESSAGE,
                channel="email",
                author_customer_id=customer[r["customer"]],
                text=r["text"],
                occurred_at=r["at"],
            )
            for r in records
        ],
        batch_size=2000,
    )
    entries = list(TimelineEntry.objects.filter(workspace=ws).order_by("pk").values_list("pk"))
    for r, (pk,) in zip(records, entries, strict=True):
        r["entry"] = pk
    encoder = default_encoder()
    filed = records[:prefill]
    vectors = encoder.encode([r["text"] for r in filed]).astype(np.float32)
    topics = {}
    for intent in sorted({r["intent"] for r in filed}):
        rows = [i for i, r in enumerate(filed) if r["intent"] == intent]
        topics[intent] = Topic.objects.create(
            workspace=ws,
            label=intent,
            vector_sum=vectors[rows].sum(axis=0).tobytes(),
            message_count=len(rows),
            first_seen_at=filed[rows[0]]["at"],
            last_seen_at=filed[rows[-1]]["at"],
        )
    TopicMessage.objects.bulk_create(
        [
            TopicMessage(
                workspace=ws,
                topic=topics[r["intent"]],
                entry_id=r["entry"],
                conversation_id=conversation[customer[r["customer"]]],
                customer_id=customer[r["customer"]],
                channel="email",
                occurred_at=r["at"],
                vector=vectors[i].tobytes(),
                similarity=1.0,
            )
            for i, r in enumerate(filed)
        ],
        batch_size=2000,
    )
    return ws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--held-out", default="get_physical_card")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    DATA.mkdir(parents=True, exist_ok=True)
    db = DATA / "trends-live.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    setup_django(db)

    from trends_stream import banking77, generate

    from warmline.proactive import live, services
    from warmline.proactive.models import TopicMessage
    from warmline.proactive.services import get_settings

    records = generate(banking77(), held_out=args.held_out, seed=args.seed)
    for r in records:
        r["at"] = datetime.fromisoformat(r["time"])
    start = records[0]["at"].timestamp()
    prefill = sum(1 for r in records if r["at"].timestamp() - start < PREFILL_DAYS * 86400)
    timed = records[prefill : prefill + args.messages]
    t = time.perf_counter()
    ws = build(records[: prefill + args.messages], prefill)
    build_s = time.perf_counter() - t

    checks: list[float] = []
    check = live.check

    def timed_check(**kw):
        t = time.perf_counter()
        try:
            return check(**kw)
        finally:
            checks.append((time.perf_counter() - t) * 1000)

    live.check = timed_check
    rebuilds = []
    rebuild = live.Watched.rebuild

    def counted_rebuild(self, **kw):
        rebuilds.append(1)
        return rebuild(self, **kw)

    live.Watched.rebuild = counted_rebuild
    assigns, flags = [], 0
    for r in timed:
        t = time.perf_counter()
        done = services.assign_message(workspace=ws, entry_id=r["entry"])
        assigns.append((time.perf_counter() - t) * 1000)
        flags += bool(done and done.flagged)
    live.check, live.Watched.rebuild = check, rebuild
    state = live._cache[ws.pk]  # this process's cache of the workspace
    last = TopicMessage.objects.filter(workspace=ws).order_by("pk").last()
    live.forget(ws.pk)  # a restarted worker
    t = time.perf_counter()
    restarted = live.watched(ws.pk, state.dims, services.detector_config(get_settings(ws)))
    restarted.sync(below=last.pk, now=last.occurred_at)  # as the last check synced it
    restart_ms = (time.perf_counter() - t) * 1000
    assert (
        restarted.pks[restarted.lo : restarted.n].tolist() == state.pks[state.lo : state.n].tolist()
    )
    cold, warm = checks[0], checks[1:]

    def summary(values: list[float]) -> dict:
        return {
            "median": round(statistics.median(values), 3),
            "mean": round(statistics.fmean(values), 3),
            "p95": round(float(np.percentile(values, 95)), 3),
        }

    result = {
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "database": "SQLite (file, WAL)",
        "stream": f"{args.held_out} seed {args.seed}: first {PREFILL_DAYS} days filed",
        "watched_messages": int(np.subtract(*state.window(state.times[state.n - 1])[::-1])),
        "held_messages": len(state),  # the watched period and a day's slack
        "checked_messages": len(warm),
        "live_detect_ms_per_msg": summary(warm),
        "cold_rebuild_ms": round(cold, 1),
        "restart_rebuild_ms": round(restart_ms, 1),
        "rebuilds_after_the_cold_one": len(rebuilds) - 1,
        "assign_ms_per_msg": summary(assigns[1:]),
        "flags": flags,
        "cache_bytes_allocated": int(
            sum(getattr(state, name).nbytes for name in live.Watched._ARRAYS)
        ),
        "build_seconds": round(build_s, 1),
        "load_average_1min_at_start": round(load_start, 2),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    merge_result("trends", "live_detection", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
