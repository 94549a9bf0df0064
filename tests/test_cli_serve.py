"""`warmline serve` really serves: the web app, the API and the embedded worker."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_health_and_the_sign_in_page(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "WARMLINE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "warmline.settings",
    }
    env.pop("WARMLINE_TESTING", None)
    # The embedded default under test: its queue is the SQLite file in the data folder,
    # not a Redis queue shared with whatever else this machine (or CI run) has queued.
    env.pop("REDIS_URL", None)
    # Another process (here: like `warmline demo` or a web worker) queues a task whose
    # module nothing imports at start-up: the embedded worker must still know it.
    subprocess.run(
        [sys.executable, "-m", "warmline", "migrate", "-v0"], env=env, check=True, timeout=300
    )
    queue = (
        "import django; django.setup()\n"
        "from huey.contrib.djhuey import HUEY\n"
        "from warmline.proactive.care.tasks import customer_changed\n"
        "customer_changed(0, 0)\n"
        "print(HUEY.pending_count())\n"
    )
    queued = subprocess.run(
        [sys.executable, "-c", queue], env=env, capture_output=True, text=True, timeout=120
    )
    assert queued.stdout.split()[-1] == "1", queued.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "warmline", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.5)
        assert r.json() == {"status": "ok"}
        page = httpx.get(f"http://127.0.0.1:{port}/login/", timeout=5)
        assert page.status_code == 200 and "Sign in" in page.text
        css = httpx.get(f"http://127.0.0.1:{port}/static/web/warmline.css", timeout=5)
        assert css.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/customers", timeout=5).status_code == 401
        pending = "1"
        while pending != "0" and time.monotonic() < deadline + 30:
            time.sleep(0.5)
            pending = subprocess.run(
                [sys.executable, "-c", queue.replace("customer_changed(0, 0)\n", "")],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout.split()[-1]
        assert pending == "0"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    out = proc.stdout.read()
    assert "Embedded worker started" in out and f"http://127.0.0.1:{port}/" in out
    assert "not found in TaskRegistry" not in out
    assert "Executing warmline.proactive.care.tasks.customer_changed" in out
