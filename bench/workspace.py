"""Agent workspace benchmark: server time of the inbox and of a conversation with its 360° panel.

Builds (once, cached under bench/.data/) a database of 500k customers and 5M
timeline entries in which one customer has 1,000 past messages, then times
requests in-process through Django's full stack (middleware, session, auth,
views, templates; DEBUG off, production settings) with the test Client. What is
measured is server time: no network, no browser.

    python bench/workspace.py                                  # SQLite -> bench/results/workspace.json
    python bench/workspace.py --customers 20000 --entries 200000   # quick check
    python bench/workspace.py --database postgres://u:p@127.0.0.1/db  # -> workspace_postgres.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import ROOT, server_env, write_result  # noqa: E402

TEXTS = [
    "Hi, my order {n} hasn't arrived and tracking stopped updating.",
    "I was charged twice for my last order, please refund one payment.",
    "Hola, quiero cambiar la dirección de entrega del pedido {n}.",
    "Can I return the jacket? It doesn't fit.",
    "Thanks for the quick help yesterday!",
    "The app crashes when I open my orders page.",
]
FOCUS_EMAIL = "focus@bench.example"
FOCUS_CONVERSATIONS = 50  # x 20 entries = 1,000 past messages
FOCUS_ENTRIES_EACH = 20
OPEN_CASES = 3000
AGENTS = 20
CHUNK = 20_000


def seed(customers: int, entries: int) -> dict:
    """Populate with bulk_create in large chunks (seeding speed is not what is measured)."""
    from django.db import transaction
    from django.utils import timezone

    from warmline.conversations.models import Conversation, TimelineEntry
    from warmline.customers.models import Customer, Identity, Order
    from warmline.tenancy.models import Team, Workspace
    from warmline.tenancy.services import create_member

    ws, _ = Workspace.objects.get_or_create(
        slug="bench-workspace",
        defaults={"name": "Bench", "time_zone": "Europe/Madrid", "currency": "EUR"},
    )
    if Customer.objects.filter(workspace=ws).count() >= customers:
        return {"seeded": False}
    t_start = time.perf_counter()
    rng = random.Random(11)
    now = timezone.now()
    t0 = now - dt.timedelta(days=720)
    agents = [
        create_member(
            workspace=ws,
            email=f"agent{i}@bench.example",
            role="agent",
            password="bench-pass-123",
            display_name=f"Agent {i}",
        )
        for i in range(AGENTS)
    ]
    team = Team.objects.create(workspace=ws, name="Support")
    team.members.set(agents)
    # Customers (the first is the focus customer with 1,000 past messages).
    for start in range(0, customers, CHUNK):
        with transaction.atomic():
            batch = [
                Customer(
                    workspace=ws,
                    name="Focus Customer" if i == 0 else f"Customer {i}",
                    customer_since=(t0 + dt.timedelta(days=i % 600)).date(),
                    tier=["standard", "silver", "gold", "platinum"][i % 4],
                    preferred_language="es" if i % 3 == 0 else "en",
                )
                for i in range(start, min(customers, start + CHUNK))
            ]
            made = Customer.objects.bulk_create(batch, batch_size=5000)
            Identity.objects.bulk_create(
                [
                    Identity(
                        workspace=ws,
                        customer=c,
                        kind="email",
                        value=FOCUS_EMAIL if i == 0 else f"c{i}@bench.example",
                    )
                    for i, c in zip(range(start, start + CHUNK), made, strict=False)
                ],
                batch_size=5000,
            )
    cids = list(Customer.objects.filter(workspace=ws).order_by("id").values_list("id", flat=True))
    focus = cids[0]
    Order.objects.bulk_create(
        [
            Order(
                workspace=ws,
                customer_id=focus,
                external_id=f"FOCUS-{k}",
                status="delivered",
                total=49,
                currency="EUR",
                placed_at=t0 + dt.timedelta(days=k * 7),
            )
            for k in range(60)
        ]
    )
    per_conv = 4
    focus_entries = FOCUS_CONVERSATIONS * FOCUS_ENTRIES_EACH
    other_convs = max(0, (entries - focus_entries) // per_conv)
    total_convs = other_convs + FOCUS_CONVERSATIONS
    number = 0
    focus_made = 0
    step = max(1, total_convs // FOCUS_CONVERSATIONS)
    open_from = total_convs - OPEN_CASES
    for start in range(0, total_convs, CHUNK // per_conv):
        with transaction.atomic():
            convs = []
            for k in range(start, min(total_convs, start + CHUNK // per_conv)):
                number += 1
                at = t0 + dt.timedelta(minutes=k * (719 * 24 * 60) // total_convs)
                # Spread the focus customer's 50 cases over the two years; the last is open.
                is_focus = k % step == step - 1 and focus_made < FOCUS_CONVERSATIONS
                focus_made += is_focus
                customer_id = focus if is_focus else cids[1 + k % (len(cids) - 1)]
                is_open = k >= open_from or (is_focus and focus_made == FOCUS_CONVERSATIONS)
                n_entries = FOCUS_ENTRIES_EACH if customer_id == focus else per_conv
                convs.append(
                    Conversation(
                        workspace=ws,
                        number=number,
                        customer_id=customer_id,
                        subject="Order question",
                        status=("open" if k % 3 else "pending") if is_open else "resolved",
                        priority=["low", "normal", "normal", "high", "urgent"][k % 5],
                        owner_id=agents[k % AGENTS].pk if k % 4 else None,
                        team=team if k % 2 else None,
                        channel=["email", "chat", "sms", "whatsapp"][k % 4],
                        last_channel=["email", "chat", "sms", "whatsapp"][k % 4],
                        opened_at=at,
                        last_activity_at=at + dt.timedelta(hours=2),
                        waiting_since=at if is_open and k % 2 else None,
                        resolved_at=None if is_open else at + dt.timedelta(hours=2),
                        message_count=n_entries,
                        customer_message_count=n_entries // 2,
                        tags=["vip"] if k % 50 == 0 else [],
                        sentiment_last=rng.uniform(-1, 1),
                    )
                )
            made = Conversation.objects.bulk_create(convs, batch_size=5000)
            rows = []
            for conv in made:
                n_entries = FOCUS_ENTRIES_EACH if conv.customer_id == focus else per_conv
                for j in range(n_entries):
                    kind = "customer_message" if j % 2 == 0 else "agent_reply"
                    rows.append(
                        TimelineEntry(
                            workspace=ws,
                            conversation=conv,
                            kind=kind,
                            channel=conv.channel,
                            text=rng.choice(TEXTS).format(n=rng.randint(10000, 99999)),
                            occurred_at=conv.opened_at + dt.timedelta(minutes=5 * j),
                            author_customer_id=conv.customer_id
                            if kind == "customer_message"
                            else None,
                            author_member_id=conv.owner_id if kind == "agent_reply" else None,
                            delivery_status="received"
                            if kind == "customer_message"
                            else "delivered",
                            sentiment=0.1 if kind == "customer_message" else None,
                        )
                    )
            TimelineEntry.objects.bulk_create(rows, batch_size=5000)
        if start and start % (CHUNK * 10) == 0:
            print(f"  … {start:,} conversations", file=sys.stderr, flush=True)
    Workspace.objects.filter(pk=ws.pk).update(conversation_seq=number)
    return {"seeded": True, "seed_seconds": round(time.perf_counter() - t_start, 1)}


def focus_case():
    from warmline.conversations.models import Conversation
    from warmline.customers.models import Identity

    focus = Identity.objects.get(kind="email", value=FOCUS_EMAIL).customer_id
    return Conversation.objects.filter(customer_id=focus).order_by("-last_activity_at").first()


def timed(client, url: str, iterations: int, warmup: int = 5) -> dict:
    for _ in range(warmup):
        assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(iterations):
        t = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, url
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
        "max_ms": round(samples[-1], 2),
        "n": iterations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=500_000)
    parser.add_argument("--entries", type=int, default=5_000_000)
    parser.add_argument("--database", default="", help="postgres://… (default: cached SQLite file)")
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()

    data = ROOT / "bench" / ".data"
    data.mkdir(parents=True, exist_ok=True)
    default_size = (args.customers, args.entries) == (500_000, 5_000_000)
    if args.database:
        url, label = args.database, "postgresql"
    else:
        name = (
            "workspace.sqlite3"
            if default_size
            else f"workspace-{args.customers}-{args.entries}.sqlite3"
        )
        url, label = f"sqlite:///{data / name}", "sqlite"
    os.environ.update(server_env(url, data / "workspace-var"))
    os.environ["WARMLINE_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", interactive=False, verbosity=0)
    seeded = seed(args.customers, args.entries)
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("PRAGMA optimize")
    elif seeded.get("seeded"):
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    # No setup_test_environment(): its template instrumentation would inflate the timings.

    from warmline.conversations.models import Conversation, TimelineEntry
    from warmline.customers.models import Customer
    from warmline.tenancy.models import Member

    conv = focus_case()
    member = (
        Member.objects.filter(workspace_id=conv.workspace_id, user__username="agent1@bench.example")
        .select_related("user")
        .get()
    )
    client = Client()
    client.force_login(member.user)
    ws = conv.workspace_id
    sizes = {
        "customers": Customer.objects.filter(workspace_id=ws).count(),
        "timeline_entries": TimelineEntry.objects.filter(workspace_id=ws).count(),
        "conversations": Conversation.objects.filter(workspace_id=ws).count(),
        "focus_customer_messages": TimelineEntry.objects.filter(
            workspace_id=ws, conversation__customer_id=conv.customer_id
        ).count(),
    }
    n = args.iterations
    conversation = timed(client, f"/c/{conv.number}/", n)
    inbox = timed(client, "/?view=all", n)
    extra = {
        "inbox_mine": timed(client, "/?view=mine&sort=waiting", n // 3),
        "inbox_team_priority": timed(client, "/?view=team&sort=priority", n // 3),
        "inbox_resolved": timed(client, "/?view=resolved", n // 3),
        "inbox_tag_negative": timed(client, "/?view=all&tag=vip&sentiment=negative", n // 3),
        "panel_only": timed(client, f"/c/{conv.number}/panel/", n // 3),
        "customer_search_email": timed(client, "/customers/?q=" + FOCUS_EMAIL, n // 3),
    }
    result = {
        "database": label,
        "conversation_p50_ms": conversation["p50_ms"],
        "conversation_p95_ms": conversation["p95_ms"],
        "inbox_p50_ms": inbox["p50_ms"],
        "inbox_p95_ms": inbox["p95_ms"],
        "budgets": {"conversation_p95_ms": 50, "inbox_p95_ms": 100},
        "within_budget": conversation["p95_ms"] < 50 and inbox["p95_ms"] < 100,
        "conversation": conversation,
        "inbox": inbox,
        "extra": extra,
        "sizes": sizes,
        "inbox_rows": 50,
        "method": "in-process django.test.Client through the full middleware stack, DEBUG off, production settings, one signed-in agent",
        **seeded,
    }
    write_result("workspace" if label == "sqlite" else "workspace_postgres", result)


if __name__ == "__main__":
    main()
