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


def _writer(connection):
    """A fast row writer: COPY on PostgreSQL, executemany on SQLite.

    The ORM's bulk_create spends most of its time building model instances; at
    5M rows that is the difference between minutes and most of an hour.
    """
    if connection.vendor == "postgresql":

        def write(table: str, columns: list[str], rows) -> None:
            cols = ", ".join(f'"{c}"' for c in columns)
            with connection.cursor() as cur:
                with cur.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)

    else:

        def write(table: str, columns: list[str], rows) -> None:
            cols = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            with connection.cursor() as cur:
                cur.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', rows)

    return write


def _columns(model, given: list[str], connection) -> tuple[list[str], tuple]:
    """The columns to write (``given`` first, then every other column at its default) and
    the constant tail of every row, prepared for the database once."""
    import json

    from django.db.models import JSONField
    from django.utils import timezone

    now = timezone.now()
    tail_cols, tail = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.name in given:
            continue
        if f.name in ("created_at", "updated_at"):
            value = connection.ops.adapt_datetimefield_value(now)
        elif isinstance(f, JSONField):
            value = json.dumps(f.get_default())
        else:
            value = f.get_db_prep_save(f.get_default(), connection)
        tail_cols.append(f.column)
        tail.append(value)
    return [model._meta.get_field(g).column for g in given] + tail_cols, tuple(tail)


def seed(customers: int, entries: int) -> dict:
    """Populate with raw multi-row writes in chunks (seeding speed is not what is measured)."""
    import json

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from warmline.conversations.models import Conversation, TimelineEntry
    from warmline.customers.models import Customer, Identity, Order
    from warmline.tenancy.models import Team, Workspace
    from warmline.tenancy.services import create_member

    ws, _ = Workspace.objects.get_or_create(
        slug="bench-workspace",
        defaults={"name": "Bench", "time_zone": "Europe/Madrid", "currency": "EUR"},
    )
    if Customer.objects.filter(workspace=ws).exists():
        return {"seeded": False}
    t_start = time.perf_counter()
    write = _writer(connection)
    day = connection.ops.adapt_datefield_value
    # Times are built naive in UTC; SQLite stores that text, PostgreSQL gets them aware.
    if connection.vendor == "sqlite":
        ts = str
    else:

        def ts(value: dt.datetime) -> dt.datetime:
            return value.replace(tzinfo=dt.UTC)

    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            # Build-time only: a crash mid-build just means building again.
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-400000")
    rng = random.Random(11)
    t0 = timezone.now().replace(tzinfo=None) - dt.timedelta(days=720)
    agents = [
        create_member(
            workspace=ws, email=f"agent{i}@bench.example", role="agent", display_name=f"Agent {i}"
        )
        for i in range(AGENTS)
    ]
    # One password hash for all (Argon2 is slow on purpose; 20 hashes cost 10 s here).
    get_user_model().objects.filter(pk__in=[a.user_id for a in agents]).update(
        password=make_password("bench-pass-123")
    )
    team = Team.objects.create(workspace=ws, name="Support")
    team.members.set(agents)
    agent_ids = [a.pk for a in agents]

    # Customers (the first is the focus customer with 1,000 past messages), then identities.
    tiers = ["standard", "silver", "gold", "platinum"]
    cust_cols, cust_tail = _columns(
        Customer,
        ["workspace", "name", "customer_since", "tier", "preferred_language", "lifetime_value"],
        connection,
    )
    with transaction.atomic():
        for start in range(0, customers, CHUNK * 5):
            write(
                Customer._meta.db_table,
                cust_cols,
                (
                    (
                        ws.pk,
                        "Focus Customer" if i == 0 else f"Customer {i}",
                        day((t0 + dt.timedelta(days=i % 600)).date()),
                        tiers[i % 4],
                        "es" if i % 3 == 0 else "en",
                        "2940.00" if i == 0 else f"{(i % 97) * 13}.50",
                        *cust_tail,
                    )
                    for i in range(start, min(customers, start + CHUNK * 5))
                ),
            )
        cids = list(
            Customer.objects.filter(workspace=ws).order_by("id").values_list("id", flat=True)
        )
        focus = cids[0]
        ident_cols, ident_tail = _columns(
            Identity, ["workspace", "customer", "kind", "value"], connection
        )
        write(
            Identity._meta.db_table,
            ident_cols,
            (
                (ws.pk, cid, "email", FOCUS_EMAIL if i == 0 else f"c{i}@bench.example", *ident_tail)
                for i, cid in enumerate(cids)
            ),
        )
    Order.objects.bulk_create(
        [
            Order(
                workspace=ws,
                customer_id=focus,
                external_id=f"FOCUS-{k}",
                status="delivered",
                total=49,
                currency="EUR",
                placed_at=(t0 + dt.timedelta(days=k * 7)).replace(tzinfo=dt.UTC),
            )
            for k in range(60)
        ]
    )
    per_conv = 4
    focus_entries = FOCUS_CONVERSATIONS * FOCUS_ENTRIES_EACH
    other_convs = max(0, (entries - focus_entries) // per_conv)
    total_convs = other_convs + FOCUS_CONVERSATIONS
    step = max(1, total_convs // FOCUS_CONVERSATIONS)
    open_from = total_convs - OPEN_CASES
    channels = ["email", "chat", "sms", "whatsapp"]
    priorities = ["low", "normal", "normal", "high", "urgent"]
    conv_cols, conv_tail = _columns(
        Conversation,
        [
            "workspace",
            "number",
            "customer",
            "subject",
            "status",
            "priority",
            "owner",
            "team",
            "channel",
            "last_channel",
            "opened_at",
            "last_activity_at",
            "last_customer_message_at",
            "waiting_since",
            "resolved_at",
            "message_count",
            "customer_message_count",
            "tags",
            "sentiment_last",
        ],
        connection,
    )
    entry_cols, entry_tail = _columns(
        TimelineEntry,
        [
            "workspace",
            "conversation",
            "kind",
            "channel",
            "text",
            "occurred_at",
            "author_customer",
            "author_member",
            "delivery_status",
            "sentiment",
        ],
        connection,
    )
    vip, no_tags = json.dumps(["vip"]), json.dumps([])
    texts = [rng.choice(TEXTS).format(n=rng.randint(10000, 99999)) for _ in range(4099)]
    # Conversation ids are assigned in insertion order, so entries can name them
    # without reading them back: the next id is one past the current maximum.
    next_id = (Conversation.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    focus_made = 0
    per_chunk = CHUNK // per_conv
    for start in range(0, total_convs, per_chunk):
        conv_rows, entry_rows = [], []
        for k in range(start, min(total_convs, start + per_chunk)):
            at = t0 + dt.timedelta(minutes=k * (719 * 24 * 60) // total_convs)
            # Spread the focus customer's 50 cases over the two years; the last is open.
            is_focus = k % step == step - 1 and focus_made < FOCUS_CONVERSATIONS
            focus_made += is_focus
            customer_id = focus if is_focus else cids[1 + k % (len(cids) - 1)]
            is_open = k >= open_from or (is_focus and focus_made == FOCUS_CONVERSATIONS)
            n_entries = FOCUS_ENTRIES_EACH if is_focus else per_conv
            owner = agent_ids[k % AGENTS] if k % 4 else None
            channel = channels[k % 4]
            last = at + dt.timedelta(minutes=5 * (n_entries - 1))
            conv_id = next_id + k
            conv_rows.append(
                (
                    ws.pk,
                    k + 1,
                    customer_id,
                    "Order question",
                    ("open" if k % 3 else "pending") if is_open else "resolved",
                    priorities[k % 5],
                    owner,
                    team.pk if k % 2 else None,
                    channel,
                    channel,
                    ts(at),
                    ts(last),
                    ts(last - dt.timedelta(minutes=5)),
                    ts(at) if is_open and k % 2 else None,
                    None if is_open else ts(last),
                    n_entries,
                    n_entries // 2,
                    vip if k % 50 == 0 else no_tags,
                    rng.uniform(-1, 1),
                    *conv_tail,
                )
            )
            for j in range(n_entries):
                from_customer = j % 2 == 0
                entry_rows.append(
                    (
                        ws.pk,
                        conv_id,
                        "customer_message" if from_customer else "agent_reply",
                        channel,
                        texts[(k * 20 + j) % 4099],
                        ts(at + dt.timedelta(minutes=5 * j)),
                        customer_id if from_customer else None,
                        None if from_customer else owner,
                        "received" if from_customer else "delivered",
                        0.1 if from_customer else None,
                        *entry_tail,
                    )
                )
        with transaction.atomic():
            write(Conversation._meta.db_table, conv_cols, conv_rows)
            if start == 0:
                got = Conversation.objects.filter(workspace=ws, number=1).values_list("id")[0][0]
                assert got == next_id, "conversation ids are not the expected sequence"
            write(TimelineEntry._meta.db_table, entry_cols, entry_rows)
        if start and start % (per_chunk * 25) == 0:
            print(
                f"  … {start:,} conversations, {time.perf_counter() - t_start:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    got = Conversation.objects.filter(workspace=ws).order_by("-id").values_list("id", "number")[0]
    assert got == (next_id + total_convs - 1, total_convs), "conversation ids are not contiguous"
    Workspace.objects.filter(pk=ws.pk).update(conversation_seq=total_convs)
    return {"seeded": True, "seed_seconds": round(time.perf_counter() - t_start, 1)}


def focus_case():
    from warmline.conversations.models import Conversation
    from warmline.customers.models import Identity

    focus = Identity.objects.get(kind="email", value=FOCUS_EMAIL).customer_id
    return Conversation.objects.filter(customer_id=focus).order_by("-last_activity_at").first()


def _pct(samples: list[float], q: float) -> float:
    return round(samples[max(0, int(len(samples) * q) - 1)], 2)


def timed(client, url: str, iterations: int, warmup: int = 5) -> dict:
    """Wall-clock server time per request, and this thread's CPU time beside it.

    On a shared machine the wall time includes waiting for a core; the CPU time
    (which on SQLite includes the database work, done in-process) shows what the
    request itself costs. Both are reported; the headline figures are wall time.
    """
    for _ in range(warmup):
        assert client.get(url).status_code == 200, url
    wall, cpu = [], []
    for _ in range(iterations):
        t, c = time.perf_counter(), time.thread_time()
        response = client.get(url)
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
        assert response.status_code == 200, url
    wall.sort()
    cpu.sort()
    return {
        "p50_ms": round(statistics.median(wall), 2),
        "p95_ms": _pct(wall, 0.95),
        "max_ms": round(wall[-1], 2),
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        "cpu_p95_ms": _pct(cpu, 0.95),
        "n": iterations,
    }


def next_page_url(client, url: str) -> str:
    """The inbox's own "Next" link (a keyset cursor), as an agent would follow it."""
    import re
    from html import unescape

    page = client.get(url).content.decode()
    match = re.search(r'<a rel="next" href="([^"]+)"', page)
    assert match, "the inbox has no next page"
    return "/" + unescape(match.group(1))


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
    load_before = os.getloadavg()
    conversation = timed(client, f"/c/{conv.number}/", n)
    inbox = timed(client, "/?view=all", n)
    extra = {
        "inbox_mine": timed(client, "/?view=mine&sort=waiting", n // 3),
        "inbox_team_priority": timed(client, "/?view=team&sort=priority", n // 3),
        "inbox_resolved": timed(client, "/?view=resolved", n // 3),
        "inbox_tag_negative": timed(client, "/?view=all&tag=vip&sentiment=negative", n // 3),
        "panel_only": timed(client, f"/c/{conv.number}/panel/", n // 3),
        "customer_search_email": timed(client, "/customers/?q=" + FOCUS_EMAIL, n // 3),
        "inbox_all_next_page": timed(client, next_page_url(client, "/?view=all"), n // 3),
    }
    load_after = os.getloadavg()
    result = {
        "database": label,
        "conversation_p50_ms": conversation["p50_ms"],
        "conversation_p95_ms": conversation["p95_ms"],
        "inbox_p50_ms": inbox["p50_ms"],
        "inbox_p95_ms": inbox["p95_ms"],
        "budgets": {"conversation_p95_ms": 50, "inbox_p95_ms": 100},
        "within_budget": conversation["p95_ms"] < 50 and inbox["p95_ms"] < 100,
        "within_budget_cpu": conversation["cpu_p95_ms"] < 50 and inbox["cpu_p95_ms"] < 100,
        "conversation": conversation,
        "inbox": inbox,
        "extra": extra,
        "sizes": sizes,
        "inbox_rows": 50,
        "method": "in-process django.test.Client through the full middleware stack, DEBUG off, production settings, one signed-in agent",
        "load_average_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "conditions": (
            f"machine with {os.cpu_count()} cores shared with other work while measured "
            f"(1-minute load {load_before[0]:.1f} before, {load_after[0]:.1f} after); "
            "wall time includes waiting for a core, cpu_* is this request's own CPU time"
            + (
                " in the Django process (the PostgreSQL server's share is not in it)"
                if label == "postgresql"
                else " (SQLite runs in-process, so it includes the database work)"
            )
        ),
        **seeded,
    }
    write_result("workspace" if label == "sqlite" else "workspace_postgres", result)


if __name__ == "__main__":
    main()
