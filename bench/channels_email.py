"""Email in: messages per second through the SMTP server into committed conversations.

Starts ``warmline smtpd`` (production settings, a throwaway SQLite file unless
--database is given), then N loopback SMTP clients each deliver their share of
a realistic mix over one connection: first messages from distinct customers,
replies threaded by In-Reply-To, HTML-only mail, an attachment now and then.
Each ``250`` means committed (the server answers after commit), so the figure
is committed messages per second; the bench checks the count in the database
afterwards. Merges ``email_msgs_per_s`` (and details) into
bench/results/channels.json, which the chat benchmark also writes.

    python bench/channels_email.py [--messages 1500] [--clients 4] [--database URL]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import RESULTS, free_port, machine, server_env  # noqa: E402

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def message(i: int) -> tuple[str, bytes]:
    """The i-th message of the mix: (envelope sender, bytes)."""
    customer = i // 3  # each customer writes a first message and two replies
    sender = f"customer{customer}@mail.example"
    mid = f"bench-{i}@mail.example"
    head = (
        f"From: Customer {customer} <{sender}>\r\nTo: help@brand.example\r\n"
        f"Date: Tue, 3 Mar 2026 10:{i % 60:02d}:00 +0000\r\nMessage-ID: <{mid}>\r\n"
    )
    kind = i % 3
    if kind == 0:
        subject = f"Order NW{customer} has not arrived"
        body = (
            f"Hello,\r\n\r\nMy order NW{customer} was due last week and has not arrived.\r\n"
            "Could you check where it is?\r\n\r\nThanks\r\n"
        )
        if customer % 5 == 0:  # HTML-only
            return sender, (
                head + f"Subject: {subject}\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/html; charset=utf-8\r\n\r\n"
                f"<p>Hello,</p><p>My order <b>NW{customer}</b> was due last week.</p>"
                "<p>Thanks</p>\r\n"
            ).encode()
        return sender, (head + f"Subject: {subject}\r\n\r\n{body}").encode()
    parent = f"bench-{i - 1}@mail.example"
    head += (
        f"Subject: Re: Order NW{customer}\r\nIn-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
    )
    text = (
        "Any news? I really need it for the weekend.\r\n\r\n"
        "On Tue, 3 Mar 2026 at 10:00, Support <help@brand.example> wrote:\r\n> We are checking.\r\n"
    )
    if customer % 7 == 0 and kind == 2:  # a photo attached
        return sender, (
            head + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
            f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            "--b1\r\nContent-Type: image/png; name=photo.png\r\n"
            "Content-Disposition: attachment; filename=photo.png\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{PNG}\r\n--b1--\r\n"
        ).encode()
    return sender, (head + "\r\n" + text).encode()


def run_cli(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "warmline", *args], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def client(port: int, indices: list[int], latencies: list[float], errors: list[str]) -> None:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for i in indices:
                sender, raw = message(i)
                t0 = time.perf_counter()
                refused = smtp.sendmail(sender, ["help@brand.example"], raw)
                latencies.append(time.perf_counter() - t0)
                if refused:
                    errors.append(str(refused))
    except Exception as exc:  # reported in the result, never hidden
        errors.append(f"{exc.__class__.__name__}: {exc}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=4, help="smtpd storage threads")
    ap.add_argument("--database", default="")
    args = ap.parse_args()
    # Customers write in threads of three: keep each thread on one client, in order.
    tmp = Path(tempfile.mkdtemp(prefix="bench-email-"))
    database = args.database or f"sqlite:///{tmp}/email.sqlite3"
    env = server_env(database, tmp)
    run_cli(env, "migrate", "--verbosity", "0")
    run_cli(env, "createworkspace", "--name", "Bench", "--slug", "bench")
    run_cli(env, "channel", "add-email", "--workspace", "bench", "--address", "help@brand.example")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "warmline", "smtpd", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(args.workers)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                smtplib.SMTP("127.0.0.1", port, timeout=5).quit()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(server.stdout.read()) from None
                time.sleep(0.2)
        threads_of = [list(range(c * 3, c * 3 + 3)) for c in range(args.messages // 3)]
        shares: list[list[int]] = [[] for _ in range(args.clients)]
        for n, group in enumerate(threads_of):
            shares[n % args.clients].extend(group)
        latencies: list[float] = []
        errors: list[str] = []
        workers = [
            threading.Thread(target=client, args=(port, share, latencies, errors))
            for share in shares
        ]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=900)
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)

    # Count what was committed, in the database the server wrote.
    os.environ.update(env)
    import django

    django.setup()
    from warmline.conversations.models import Conversation, TimelineEntry

    stored = TimelineEntry.objects.filter(kind="customer_message", channel="email").count()
    conversations = Conversation.objects.count()
    sent = len(latencies)
    lat_ms = sorted(x * 1000 for x in latencies)
    # The headline figure is the embedded default (SQLite); PostgreSQL runs get their own keys.
    key = "email_postgresql" if database.startswith("postgres") else "email"
    result = {
        f"{key}_msgs_per_s": round(sent / elapsed, 1),
        key: {
            "messages_sent": sent,
            "messages_committed": stored,
            "conversations": conversations,
            "clients": args.clients,
            "smtpd_storage_threads": args.workers,
            "seconds": round(elapsed, 2),
            "per_message_ms_p50": round(statistics.median(lat_ms), 2) if lat_ms else None,
            "per_message_ms_p99": round(lat_ms[int(len(lat_ms) * 0.99) - 1], 2) if lat_ms else None,
            "errors": errors[:10],
            "database": "postgresql" if database.startswith("postgres") else "sqlite",
            "mix": "1 new message + 2 threaded replies per customer; 1/5 of new ones HTML-only; "
            "1/21 with a PNG attachment",
            "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
            "machine": machine(),
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "note": "2-core machine shared with other work while measured",
        },
    }
    assert stored == sent, f"{sent} acknowledged but {stored} committed"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "channels.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(result)
    path.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
