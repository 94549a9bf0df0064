"""Live-chat benchmark: delivery latency over the websocket with 200 concurrent visitors.

Serves Warmline with ``warmline serve`` (uvicorn, ASGI, in-memory channel layer;
Redis with ``--redis``) and, as in production, a separate ``warmline worker``
process for background tasks (``--worker embedded`` runs them as threads inside
the server instead, as ``warmline serve`` does by default), on a loopback port,
in production mode (DEBUG off), on a fresh SQLite database under a temporary
folder (or ``--database``). Then, from this process (asyncio):

* N visitors (default 200) open widget sockets (Origin checked as for any site)
  and stay connected for the whole run;
* each visitor sends a message every 15–45 s (uniform; ``--interval``), one
  outstanding at a time — about 6.7 messages/s from 200 visitors; **visitor → agent** latency is the time from the visitor's frame to the
  agent's inbox socket announcing the new message of that conversation;
* an agent replies to random conversations through the agent workspace's
  reply form (HTTP POST, the one ``send()`` path) at ``--reply-rate`` per
  second, at most 4 requests in flight; **agent → visitor** latency is the
  time from the POST to the reply frame arriving in that visitor's socket.

Both are measured end to end on loopback, so they include the server's work
(ingest with its analysis and commit; send() with its outbox row) and the
client's own event loop. ``chat_p50_ms`` / ``chat_p99_ms`` are over both
directions together; the directional figures are reported too. Results are
MERGED into bench/results/channels.json (the email benchmark writes its keys
into the same file).

    python bench/channels_chat.py                     # 200 visitors, 40 s, 5 replies/s
    python bench/channels_chat.py --interval 5 15 --reply-rate 8   # a busier chat
    python bench/channels_chat.py --visitors 50 --seconds 15   # quick check
    python bench/channels_chat.py --redis redis://127.0.0.1:6390/9
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import RESULTS, ROOT, free_port, machine, server_env, wait_for  # noqa: E402

ORIGIN = "https://shop.bench.example"
TIMEOUT = 15.0
CSRF = "b" * 32

SEED = f"""
import json, django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from warmline.tenancy.models import Member, Workspace
ws, _ = Workspace.objects.get_or_create(slug="chatbench", defaults={{"name": "Chat bench"}})
ws.settings = {{"chat": {{"allowed_origins": ["{ORIGIN}"]}}}}
ws.save()
User = get_user_model()
user, _ = User.objects.get_or_create(username="agent@bench.example")
member, _ = Member.objects.get_or_create(
    workspace=ws, user=user, defaults={{"display_name": "Bench Agent", "availability": "online"}}
)
s = SessionStore()
s["_auth_user_id"] = str(user.pk)
from django.conf import settings
s["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
s["_auth_user_hash"] = user.get_session_auth_hash()
s["workspace_id"] = ws.pk
s.create()
print(json.dumps({{"session": s.session_key, "slug": ws.slug}}))
"""

MAP = """
import json, sys, django
django.setup()
from django.core import signing
from warmline.channels.chat.models import ChatVisitor
from warmline.channels.chat.services import TOKEN_SALT
tokens = json.loads(sys.stdin.read())
keys = [signing.loads(t, salt=TOKEN_SALT)["v"] for t in tokens]
rows = dict(
    (v.key, [v.conversation_id, v.conversation.number])
    for v in ChatVisitor.objects.select_related("conversation").filter(key__in=keys)
)
print(json.dumps([rows[k] for k in keys]))
"""


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return round(values[k], 1)


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": pct(values, 50),
        "p90_ms": pct(values, 90),
        "p99_ms": pct(values, 99),
        "max_ms": round(max(values), 1) if values else None,
        "mean_ms": round(statistics.fmean(values), 1) if values else None,
    }


class Visitor:
    def __init__(self, index: int):
        self.index = index
        self.ws = None
        self.token = ""
        self.conversation_id = 0
        self.number = 0
        self.replies: dict[str, asyncio.Future] = {}
        self.acks: dict[str, asyncio.Future] = {}
        self.seq = 0
        self.closed = False

    async def open(self, url: str) -> None:
        import websockets

        self.ws = await websockets.connect(
            url, origin=ORIGIN, open_timeout=TIMEOUT, max_queue=None, ping_interval=None
        )
        await self.ws.send(json.dumps({"type": "hello", "token": None}))
        welcome = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        assert welcome["type"] == "welcome", welcome
        self.token = welcome["token"]

    async def listen(self) -> None:
        import websockets

        try:
            await self._listen()
        except websockets.ConnectionClosed:
            self.closed = True

    async def _listen(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame["type"] == "ack":
                fut = self.acks.pop(frame["client_id"], None)
                if fut and not fut.done():
                    fut.set_result(frame["id"])
            elif frame["type"] == "message" and frame["message"]["author"] == "agent":
                tag = frame["message"]["text"].split(" ", 1)[0]
                fut = self.replies.pop(tag, None)
                if fut and not fut.done():
                    fut.set_result(time.perf_counter())
            elif frame["type"] == "error":
                fut = self.acks.pop(frame.get("client_id", ""), None)
                if fut and not fut.done():
                    fut.set_exception(RuntimeError(frame["message"]))

    async def say(self, text: str) -> float:
        self.seq += 1
        client_id = f"v{self.index}m{self.seq}"
        fut = asyncio.get_running_loop().create_future()
        self.acks[client_id] = fut
        t0 = time.perf_counter()
        await self.ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))
        await asyncio.wait_for(fut, TIMEOUT)
        return t0


async def run(args, base: str, ws_base: str, slug: str, session: str, env: dict) -> dict:
    import httpx
    import websockets

    visitors = [Visitor(i) for i in range(args.visitors)]
    url = f"{ws_base}/ws/widget/{slug}/"
    # Connect in batches so the handshake storm itself is not what is measured.
    for start in range(0, len(visitors), 25):
        await asyncio.gather(*(v.open(url) for v in visitors[start : start + 25]))
    listeners = [asyncio.create_task(v.listen()) for v in visitors]

    # The agent's inbox socket (the session cookie of a signed-in agent).
    inbox = await websockets.connect(
        f"{ws_base}/ws/inbox/",
        origin=base,
        additional_headers={"Cookie": f"sessionid={session}"},
        open_timeout=TIMEOUT,
        max_queue=None,
        ping_interval=None,
    )
    pending_in: dict[int, asyncio.Future] = {}

    async def inbox_listen():
        async for raw in inbox:
            frame = json.loads(raw)
            if frame.get("type") == "inbox" and "message" in frame.get("what", []):
                fut = pending_in.pop(frame["conversation_id"], None)
                if fut and not fut.done():
                    fut.set_result(time.perf_counter())

    inbox_task = asyncio.create_task(inbox_listen())

    # Warm-up: every visitor's first message opens their conversation.
    for start in range(0, len(visitors), 20):
        await asyncio.gather(
            *(v.say(f"Hello from visitor {v.index}") for v in visitors[start : start + 20])
        )
    proc = subprocess.run(
        [sys.executable, "-c", MAP],
        input=json.dumps([v.token for v in visitors]),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    for v, (conv_id, number) in zip(visitors, json.loads(proc.stdout), strict=True):
        v.conversation_id, v.number = conv_id, number

    timeline: list[tuple] = []
    t_start = time.perf_counter()
    to_agent: list[float] = []
    to_visitor: list[float] = []
    lost = {"to_agent": 0, "to_visitor": 0, "errors": 0}
    deadline = time.perf_counter() + args.seconds
    rng = random.Random(11)

    async def visitor_loop(v: Visitor):
        await asyncio.sleep(rng.uniform(0, args.interval[1]))
        while time.perf_counter() < deadline:
            fut = asyncio.get_running_loop().create_future()
            pending_in[v.conversation_id] = fut
            try:
                t0 = await v.say(f"Question {v.seq + 1} from visitor {v.index}")
                t1 = await asyncio.wait_for(fut, TIMEOUT)
                to_agent.append((t1 - t0) * 1000)
                timeline.append((round(t0 - t_start, 2), "in", round((t1 - t0) * 1000)))
            except TimeoutError:
                lost["to_agent"] += 1
            except RuntimeError:
                lost["errors"] += 1
            pending_in.pop(v.conversation_id, None)
            await asyncio.sleep(rng.uniform(*args.interval))

    cookies = {"sessionid": session, "csrftoken": CSRF}
    limit = asyncio.Semaphore(4)

    async def one_reply(client, v: Visitor, n: int):
        tag = f"r{n}"
        fut = asyncio.get_running_loop().create_future()
        v.replies[tag] = fut
        async with limit:
            t0 = time.perf_counter()
            resp = await client.post(
                f"{base}/c/{v.number}/reply/",
                data={"text": f"{tag} Thanks, we are on it.", "channel": "chat"},
                headers={"X-CSRFToken": CSRF},
            )
        if resp.status_code not in (200, 302):
            lost["errors"] += 1
            return
        try:
            t1 = await asyncio.wait_for(fut, TIMEOUT)
            to_visitor.append((t1 - t0) * 1000)
            timeline.append((round(t0 - t_start, 2), "out", round((t1 - t0) * 1000)))
        except TimeoutError:
            lost["to_visitor"] += 1

    async def agent_loop():
        n = 0
        tasks = []
        async with httpx.AsyncClient(cookies=cookies, timeout=TIMEOUT) as client:
            while time.perf_counter() < deadline:
                n += 1
                tasks.append(asyncio.create_task(one_reply(client, rng.choice(visitors), n)))
                await asyncio.sleep(rng.expovariate(args.reply_rate))
            await asyncio.gather(*tasks)

    await asyncio.gather(agent_loop(), *(visitor_loop(v) for v in visitors))
    elapsed = time.perf_counter() - t_start

    for t in [*listeners, inbox_task]:
        t.cancel()
    await inbox.close()
    await asyncio.gather(*(v.ws.close() for v in visitors), return_exceptions=True)
    lost["sockets_closed_by_server"] = sum(v.closed for v in visitors)
    return {
        "to_agent": to_agent,
        "to_visitor": to_visitor,
        "lost": lost,
        "elapsed_s": round(elapsed, 1),
        "timeline": timeline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument(
        "--interval",
        type=float,
        nargs=2,
        default=[15.0, 45.0],
        metavar=("MIN", "MAX"),
        help="seconds between one visitor's messages (uniform)",
    )
    parser.add_argument("--reply-rate", type=float, default=5.0, help="agent replies per second")
    parser.add_argument("--database", default="", help="DATABASE_URL (default: fresh SQLite)")
    parser.add_argument("--redis", default="", help="REDIS_URL: Redis channel layer and queue")
    parser.add_argument("--trace", default="", help="write (t, direction, ms) samples here")
    parser.add_argument(
        "--worker",
        choices=["process", "embedded", "none"],
        default="process",
        help="background worker: a separate `warmline worker` process (the production "
        "layout, default), threads inside the server (`warmline serve`'s embedded one), or none",
    )
    parser.add_argument("--worker-log", default="", help="write the worker's log here")
    parser.add_argument("--shared", action="store_true", help="note: machine shared with others")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="wl-chat-bench-") as tmp:
        data_dir = Path(tmp)
        database = args.database or f"sqlite:///{data_dir / 'bench.sqlite3'}"
        # All visitors come from 127.0.0.1 here: lift the per-address new-visitor limit.
        extra = {
            "WARMLINE_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "WARMLINE_CHAT_NEW_VISITORS_PER_HOUR": str(args.visitors * 10),
        }
        if args.redis:
            extra["REDIS_URL"] = args.redis
        embedded = "1" if args.worker == "embedded" else "0"
        env = server_env(database, data_dir, WARMLINE_EMBEDDED_WORKER=embedded, **extra)
        warmline = str(Path(sys.executable).parent / "warmline")
        subprocess.run([warmline, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
        seeded = json.loads(
            subprocess.run(
                [sys.executable, "-c", SEED], env=env, cwd=ROOT, check=True, capture_output=True,
                text=True,
            ).stdout.strip().splitlines()[-1]
        )  # fmt: skip
        port = free_port()
        server = subprocess.Popen(
            [warmline, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        background = None
        if args.worker == "process":
            log = open(args.worker_log, "w") if args.worker_log else subprocess.DEVNULL  # noqa: SIM115
            background = subprocess.Popen(
                [warmline, "worker", "--workers", "2"],
                env={**env, "WARMLINE_LOG_LEVEL": "INFO"} if args.worker_log else env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/api/v1/health")
            result = asyncio.run(
                run(args, base, f"ws://127.0.0.1:{port}", seeded["slug"], seeded["session"], env)
            )
        finally:
            for proc in (server, background):
                if proc is None:
                    continue
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()

    both = result["to_agent"] + result["to_visitor"]
    chat = {
        "visitors": args.visitors,
        "seconds": args.seconds,
        "elapsed_s": result["elapsed_s"],
        "reply_rate_per_s": args.reply_rate,
        "visitor_message_interval_s": args.interval,
        "offered_visitor_messages_per_s": round(args.visitors * 2 / sum(args.interval), 2),
        "load_average_before_after": [load_before, os.getloadavg()],
        "layer": "redis" if args.redis else "in-memory",
        "database": "postgresql" if args.database.startswith("postgres") else "sqlite",
        "server": "warmline serve (uvicorn, 1 process, in-memory layer), DEBUG off",
        "worker": {
            "process": "separate `warmline worker` process (2 threads)",
            "embedded": "embedded in the server process (2 threads)",
            "none": "none (background tasks queue up unprocessed)",
        }[args.worker],
        "visitor_to_agent": summary(result["to_agent"]),
        "agent_to_visitor": summary(result["to_visitor"]),
        "both": summary(both),
        "lost": result["lost"],
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "machine": machine(),
        "note": (
            f"End-to-end on loopback; the {args.visitors} visitor sockets and the agent's "
            "inbox socket run in this benchmark process on the same machine as the server."
            + (" Measured while other work shared the machine." if args.shared else "")
        ),
    }
    path = RESULTS / "channels.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    existing = json.loads(path.read_text()) if path.exists() else {}
    postgres = args.database.startswith("postgres")
    if postgres or args.redis:
        # Other databases and layers are kept beside the headline (SQLite) figures.
        key = "chat" + ("_postgresql" if postgres else "") + ("_redis" if args.redis else "")
        existing[key if args.worker == "process" else f"{key}_worker_{args.worker}"] = chat
    elif args.worker == "process":
        existing.update(
            {
                "chat_p50_ms": chat["both"]["p50_ms"],
                "chat_p99_ms": chat["both"]["p99_ms"],
                "chat_visitor_to_agent_p50_ms": chat["visitor_to_agent"]["p50_ms"],
                "chat_visitor_to_agent_p99_ms": chat["visitor_to_agent"]["p99_ms"],
                "chat_agent_to_visitor_p50_ms": chat["agent_to_visitor"]["p50_ms"],
                "chat_agent_to_visitor_p99_ms": chat["agent_to_visitor"]["p99_ms"],
                "chat": chat,
            }
        )
    else:  # other layouts are kept beside the headline figures, never instead of them
        existing[f"chat_worker_{args.worker}"] = chat
    path.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    if args.trace:
        Path(args.trace).write_text(json.dumps(sorted(result["timeline"])))
    print(json.dumps(chat, indent=2, default=str))


if __name__ == "__main__":
    main()
