"""Ingest benchmark: single-message API ingest under concurrent load, and bulk ingest.

Builds (once, cached under bench/.data/) a database of 100k customers and 1M
timeline entries, then serves Warmline the production way (granian, DEBUG off)
and drives it from loopback: `wrk` for single POST /api/v1/messages (bounded
in time), and an HTTP client posting /api/v1/messages/bulk batches of 1,000.

    python bench/ingest.py                       # SQLite  -> bench/results/ingest.json
    python bench/ingest.py --database postgres://user:pw@127.0.0.1/db
                                                 # PostgreSQL -> bench/results/ingest_postgres.json
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import (  # noqa: E402
    ROOT,
    free_port,
    server_env,
    start_granian,
    start_gunicorn,
    write_result,
)

TEXTS = [
    "Hi, my order {n} hasn't arrived and tracking stopped updating.",
    "I was charged twice for my last order, please refund one payment.",
    "Hola, quiero cambiar la dirección de entrega del pedido {n}.",
    "Can I return the jacket? It doesn't fit.",
    "My password reset link doesn't work.",
    "Necesito la factura del pedido {n} para mi empresa.",
    "Thanks for the quick help yesterday!",
    "The app crashes when I open my orders page.",
]


def seed(env: dict, customers: int, entries: int) -> None:
    """Populate through Django's bulk_create (seeding speed is not what is measured)."""
    code = f"""
import django, random, datetime as dt
django.setup()
from django.db import connection, transaction
from django.utils import timezone
from warmline.tenancy.models import Workspace
from warmline.customers.models import Customer, Identity
from warmline.conversations.models import Conversation, TimelineEntry
ws, created = Workspace.objects.get_or_create(slug="bench", defaults={{"name": "Bench"}})
if Customer.objects.filter(workspace=ws).count() >= {customers}:
    raise SystemExit(0)
rng = random.Random(7)
texts = {TEXTS!r}
now = timezone.now()
C = {customers}; E = {entries}
per_conv = 4
convs_n = E // per_conv
t0 = now - dt.timedelta(days=720)
B = 5000
for start in range(0, C, B):
    with transaction.atomic():
        cs = Customer.objects.bulk_create([Customer(workspace=ws, name=f"Customer {{i}}", customer_since=t0.date()) for i in range(start, min(C, start + B))])
        Identity.objects.bulk_create([Identity(workspace=ws, customer=c, kind="email", value=f"c{{i}}@bench.example") for i, c in zip(range(start, start + B), cs)])
cids = list(Customer.objects.filter(workspace=ws).order_by("id").values_list("id", flat=True))
number = 0
for start in range(0, convs_n, B):
    with transaction.atomic():
        batch = []
        for k in range(start, min(convs_n, start + B)):
            number += 1
            at = t0 + dt.timedelta(minutes=k * (720 * 24 * 60) // convs_n)
            batch.append(Conversation(workspace=ws, number=number, customer_id=cids[k % C], subject="Order question", status="resolved" if k < convs_n - 2000 else "open", channel="email", opened_at=at, last_activity_at=at + dt.timedelta(hours=2), resolved_at=at + dt.timedelta(hours=2), message_count=per_conv, customer_message_count=2))
        made = Conversation.objects.bulk_create(batch)
        rows = []
        for conv in made:
            for j in range(per_conv):
                kind = "customer_message" if j % 2 == 0 else "agent_reply"
                rows.append(TimelineEntry(workspace=ws, conversation=conv, kind=kind, channel="email", text=rng.choice(texts).format(n=rng.randint(10000, 99999)), occurred_at=conv.opened_at + dt.timedelta(minutes=30 * j), author_customer_id=conv.customer_id if kind == "customer_message" else None, external_id=f"seed-{{conv.pk}}-{{j}}" if kind == "customer_message" else None, delivery_status="received"))
        TimelineEntry.objects.bulk_create(rows)
Workspace.objects.filter(pk=ws.pk).update(conversation_seq=number)
print("seeded", C, "customers,", convs_n * per_conv, "entries")
"""
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)


def make_token(env: dict) -> str:
    code = """
import django
django.setup()
from warmline.tenancy.models import Workspace, Member
from warmline.tenancy.services import create_member, issue_token
ws = Workspace.objects.get(slug="bench")
m = Member.objects.filter(workspace=ws).first() or create_member(workspace=ws, email="bench@bench.example", role="admin")
print(issue_token(member=m, name="bench")[1])
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


WRK_SCRIPT = r"""
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(tid * 7919)
end
local texts = {TEXTS}
request = function()
  counter = counter + 1
  local who
  if math.random() < 0.7 then
    who = string.format("c%d@bench.example", math.random(0, CUSTOMERS - 1))
  else
    who = string.format("new-%s-%d-%d@bench.example", RUN, tid, counter)
  end
  local text = texts[math.random(#texts)]
  local body = string.format('{"channel":"email","external_id":"wrk-%s-%d-%d","from":{"email":"%s"},"subject":"Help","text":"%s"}', RUN, tid, counter, who, text)
  return wrk.format("POST", "/api/v1/messages", {["Content-Type"]="application/json", ["Authorization"]="Bearer TOKEN"}, body)
end
"""


def server_cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) used so far by the server's worker processes.

    On a shared machine wall-clock rates depend on what else runs; CPU seconds per
    message do not (much), and say what two idle cores could at most sustain.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    for pid in [master_pid, *map(int, children)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_wrk(port: int, token: str, customers: int, seconds: int, connections: int) -> dict:
    texts = "{" + ",".join('"' + t.replace("{n}", "12345") + '"' for t in TEXTS) + "}"
    script = (
        WRK_SCRIPT.replace("{TEXTS}", texts)
        .replace("CUSTOMERS", str(customers))
        .replace("TOKEN", token)
        .replace("RUN", str(int(time.time())))
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            f.name,
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)

    def ms(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    done = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "api_msgs_per_s": round(rps, 1),
        "api_p50_ms": ms("50"),
        "api_p99_ms": ms("99"),
        "api_requests": done,
        "api_non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "api_connections": connections,
        "api_seconds": seconds,
        "wrk_output": out,
    }


def run_bulk(port: int, token: str, customers: int, batches: int, clients: int = 1) -> dict:
    """POST ``batches`` bodies of 1,000 messages; ``clients`` senders at once.

    Bodies are built and JSON-encoded before the clock starts, so the figure is the
    server's (plus loopback HTTP), not the client's encoder.
    """
    import threading

    import httpx
    import orjson

    rng = random.Random(11)
    run = f"{int(time.time())}-{clients}"
    bodies = []
    for b in range(batches):
        msgs = []
        for i in range(1000):
            who = (
                f"c{rng.randrange(customers)}@bench.example"
                if rng.random() < 0.7
                else f"bulk-{run}-{b}-{i}@bench.example"
            )
            msgs.append(
                {
                    "channel": "email",
                    "external_id": f"bulk-{run}-{b}-{i}",
                    "from": {"email": who},
                    "subject": "Import",
                    "text": rng.choice(TEXTS).format(n=rng.randint(10000, 99999)),
                }
            )
        bodies.append(orjson.dumps({"messages": msgs}))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    times: list[float] = []
    created = [0]
    lock = threading.Lock()
    failures: list[BaseException] = []

    def send(mine: list[bytes]) -> None:
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120
            ) as client:
                for body in mine:
                    t = time.perf_counter()
                    r = client.post("/api/v1/messages/bulk", content=body)
                    r.raise_for_status()
                    n = orjson.loads(r.content)["created"]
                    with lock:
                        created[0] += n
                        times.append(time.perf_counter() - t)
        except BaseException as exc:  # surfaced below, after the other senders stop
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(bodies[k::clients],)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - started
    if failures:
        raise failures[0]
    return {
        "bulk_msgs_per_s": round(batches * 1000 / total, 1),
        "bulk_batches": batches,
        "bulk_clients": clients,
        "bulk_created": created[0],
        "bulk_batch_p50_ms": round(statistics.median(times) * 1000, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--database", default="", help="DATABASE_URL (default: SQLite under bench/.data)"
    )
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument(
        "--bulk-clients",
        type=int,
        default=2,
        help="bulk senders at once for the concurrent figure (1: sequential only)",
    )
    ap.add_argument(
        "--bulk-only",
        action="store_true",
        help="skip the single-message load; result goes to ingest_bulk*.json",
    )
    ap.add_argument(
        "--server",
        choices=["granian", "gunicorn"],
        default="granian",
        help="the production layout serves HTTP with granian (docs/operations.md)",
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--threads", type=int, default=0, help="threads per worker (default: granian 1, gunicorn 4)"
    )
    ap.add_argument(
        "--data-dir",
        default=str(ROOT / "bench" / ".data"),
        help="where the cached SQLite database and the embedded queue live",
    )
    ap.add_argument("--seed-only", action="store_true", help="build the database and stop")
    ap.add_argument("--note", default="", help="circumstances of the run, kept in the result")
    args = ap.parse_args()
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    db_url = args.database or f"sqlite:///{data_dir / 'ingest.sqlite3'}"
    engine = "postgresql" if db_url.startswith("postgres") else "sqlite"
    env = server_env(db_url, data_dir)
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v0"], env=env, cwd=ROOT, check=True
    )
    t = time.perf_counter()
    seed(env, args.customers, args.entries)
    seed_s = time.perf_counter() - t
    if args.seed_only:
        print(f"seeded in {seed_s:.0f} s")
        return
    token = make_token(env)
    port = free_port()
    if not args.threads:
        args.threads = 1 if args.server == "granian" else 4
    start = start_granian if args.server == "granian" else start_gunicorn
    server = start(env, port, workers=args.workers, threads=args.threads)
    load_before = os.getloadavg()
    try:
        cpu0 = server_cpu_seconds(server.pid)
        api = {}
        if not args.bulk_only:
            api = run_wrk(port, token, args.customers, args.seconds, args.connections)
            cpu1 = server_cpu_seconds(server.pid)
            api["api_server_cpu_ms_per_msg"] = round(
                (cpu1 - cpu0) * 1000 / max(1, api["api_requests"]), 2
            )
        cpu1 = server_cpu_seconds(server.pid)
        # Sequential first (one batch in flight: the latency of one import), then
        # ``--bulk-clients`` senders at once: the workers parse, validate and resolve
        # in parallel and only the store is serialised by SQLite's write lock.
        bulk = run_bulk(port, token, args.customers, args.batches)
        cpu2 = server_cpu_seconds(server.pid)
        bulk["bulk_server_cpu_ms_per_msg"] = round(
            (cpu2 - cpu1) * 1000 / max(1, args.batches * 1000), 3
        )
        del bulk["bulk_clients"]
        if args.bulk_clients > 1:
            conc = run_bulk(port, token, args.customers, args.batches, args.bulk_clients)
            bulk["bulk_clients"] = args.bulk_clients
            bulk["bulk_concurrent_msgs_per_s"] = conc["bulk_msgs_per_s"]
            bulk["bulk_concurrent_batch_p50_ms"] = conc["bulk_batch_p50_ms"]
            bulk["bulk_created"] += conc["bulk_created"]
    finally:
        server.terminate()
        server.wait(30)
    load_after = os.getloadavg()
    counts = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from warmline.conversations.models import TimelineEntry; from warmline.customers.models import Customer; print(Customer.objects.count(), TimelineEntry.objects.count())",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    result = {
        "database": engine,
        "server": (
            f"{args.server} {'gthread' if args.server == 'gunicorn' else 'wsgi'}, "
            f"{args.workers} workers x {args.threads} threads, DEBUG off"
        ),
        "customers_in_db": int(counts[0]),
        "timeline_entries_in_db": int(counts[1]),
        "seed_seconds": round(seed_s, 1),
        **{k: v for k, v in api.items() if k != "wrk_output"},
        **bulk,
        "budget": {"api_msgs_per_s": ">= 500", "api_p99_ms": "< 50", "bulk_msgs_per_s": ">= 20000"},
        # The machine is shared: the 1-minute load average says how much else ran.
        "load_average_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
    }
    if args.note:
        result["note"] = args.note
    name = "ingest" if engine == "sqlite" else "ingest_postgres"
    if args.bulk_only:
        name = name.replace("ingest", "ingest_bulk")
        del result["budget"]["api_msgs_per_s"], result["budget"]["api_p99_ms"]
    else:
        print(api["wrk_output"], file=sys.stderr)
    write_result(name, result)


if __name__ == "__main__":
    main()
