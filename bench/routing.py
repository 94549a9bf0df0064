"""Routing decision time with 500 members and 10k open conversations.

Builds a workspace in a throwaway SQLite file (or --database), with members of
mixed languages, skills and capacities, and 10,000 open conversations spread
over them; then times ``routing.route`` for customers with and without an
owner. Merges its figures with the replay benchmark into bench/results/actions.json.

    python bench/routing.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=500)
    ap.add_argument("--open", type=int, default=10_000)
    ap.add_argument("--decisions", type=int, default=400)
    ap.add_argument("--database", default="")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    os.environ.setdefault("DATABASE_URL", args.database or f"sqlite:///{tmp}/routing.sqlite3")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "warmline.settings",
            "WARMLINE_DATA_DIR": tmp,
            "WARMLINE_ENV": "production",
            "WARMLINE_SECRET_KEY": "bench-" + "k" * 48,
            "WARMLINE_LOG_LEVEL": "WARNING",
        }
    )
    import random

    import django

    django.setup()
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from bench._common import write_result
    from warmline.conversations import routing
    from warmline.conversations.models import Conversation
    from warmline.customers.models import Customer
    from warmline.tenancy.models import Member, Workspace

    call_command("migrate", verbosity=0)
    rng = random.Random(5)
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    ws = Workspace.objects.create(
        name="Routing",
        slug=f"routing-{int(time.time())}",
        business_hours=always,
        settings={"routing": {"tier_skills": {"platinum": "vip"}}},
    )
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"m{i}-{ws.slug}@bench.example") for i in range(args.members)]
    )
    members = Member.objects.bulk_create(
        [
            Member(
                workspace=ws,
                user=u,
                display_name=f"Agent {i}",
                availability=rng.choice(["online"] * 3 + ["away"]),
                languages=rng.choice([["en"], ["es"], ["en", "es"]]),
                skills=rng.sample(["vip", "billing", "tech", "returns"], 2),
                capacity=rng.choice([20, 30, 40]),
            )
            for i, u in enumerate(users)
        ]
    )
    customers = Customer.objects.bulk_create(
        [
            Customer(
                workspace=ws,
                name=f"C{i}",
                preferred_language=rng.choice(["en", "es"]),
                tier=rng.choice(["standard"] * 8 + ["gold", "platinum"]),
                owner=rng.choice(members) if rng.random() < 0.5 else None,
            )
            for i in range(20_000)
        ]
    )
    now = timezone.now()
    Conversation.objects.bulk_create(
        [
            Conversation(
                workspace=ws,
                number=i + 1,
                customer=rng.choice(customers),
                owner=rng.choice(members),
                status="open",
                channel="email",
                opened_at=now - dt.timedelta(hours=i % 500),
                last_activity_at=now,
            )
            for i in range(args.open)
        ],
        batch_size=2000,
    )
    with_owner = [c for c in customers if c.owner_id][: args.decisions // 2]
    without = [c for c in customers if not c.owner_id][: args.decisions // 2]
    for c in with_owner:
        c.owner = next(m for m in members if m.pk == c.owner_id)
    times = []
    cpu = []  # this process's CPU time per decision: what the decision costs without the queue
    chosen = 0
    for c in with_owner + without:
        channel = rng.choice(["email", "chat"])
        t, c0 = time.perf_counter(), time.process_time()
        d = routing.route(workspace=ws, customer=c, channel=channel, at=now)
        cpu.append((time.process_time() - c0) * 1000)
        times.append((time.perf_counter() - t) * 1000)
        chosen += d.member is not None
    times.sort()
    cpu.sort()

    def p(q: float, values: list[float] = times) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 2)

    result_path = ROOT / "bench" / "results" / "actions_replay.json"
    replay = json.loads(result_path.read_text()) if result_path.exists() else {}
    write_result(
        "actions",
        {
            "replay_tasks": replay.get("replay_tasks"),
            "replay_seconds": replay.get("replay_seconds"),
            "replay_actions_per_s": replay.get("replay_actions_per_s"),
            "replay_matched_tasks": replay.get("matched_tasks"),
            "replay_source": "bench/results/actions_replay.json",
            "replay_command": replay.get("command"),
            "replay_load_average_1m": replay.get("load_average_1m"),
            "routing_members": args.members,
            "routing_open_conversations": args.open,
            "routing_decisions": len(times),
            "routing_assigned": chosen,
            "routing_p50_ms": p(0.50),
            "routing_p95_ms": p(0.95),
            "routing_mean_ms": round(statistics.mean(times), 2),
            "routing_cpu_p50_ms": p(0.50, cpu),
            "routing_cpu_p95_ms": p(0.95, cpu),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "note": "wall-clock times on a 2-core machine shared with other work while measured "
            "(see load_average_1m)",
            "database": "postgresql"
            if os.environ["DATABASE_URL"].startswith("postgres")
            else "sqlite",
        },
    )


if __name__ == "__main__":
    main()
