"""Helpers shared by the benchmarks: environment, server processes, results."""

from __future__ import annotations

import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BENCH_SECRET = "bench-" + "k" * 48


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "warmline.settings",
            "DATABASE_URL": database_url,
            "WARMLINE_DATA_DIR": str(data_dir),
            # Production mode: DEBUG off (no query log), real secret, no TLS redirect on loopback.
            "WARMLINE_ENV": "production",
            "WARMLINE_SECRET_KEY": BENCH_SECRET,
            "WARMLINE_SSL_REDIRECT": "0",
            "WARMLINE_LOG_LEVEL": "WARNING",
            "WARMLINE_EMBEDDED_WORKER": "0",
        }
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up")


def _serve(cmd: list[str], env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    wait_for(f"http://127.0.0.1:{port}/api/v1/health")
    return proc


def start_gunicorn(env: dict, port: int, workers: int = 2, threads: int = 4) -> subprocess.Popen:
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"),
        "warmline.wsgi:application",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--log-level",
        "warning",
        "--keep-alive",
        "30",
    ]
    return _serve(cmd, env, port)


def start_granian(env: dict, port: int, workers: int = 2, threads: int = 1) -> subprocess.Popen:
    """The WSGI app under granian (Rust HTTP, ``threads`` blocking threads per worker)."""
    cmd = [
        str(Path(sys.executable).parent / "granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--runtime-threads",
        "1",
        "--log-level",
        "warning",
        "--no-ws",
        "warmline.wsgi:application",
    ]
    return _serve(cmd, env, port)


def write_result(name: str, data: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        **data,
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "machine": machine(),
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(json.dumps(data, indent=2, default=str))


def setup_django(db_path: Path) -> None:
    """Django, in this process, on the SQLite file of an in-process bench: the production
    settings that matter for timing (no query log, no embedded worker)."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "warmline.settings",
            "DATABASE_URL": f"sqlite:///{db_path}",
            "WARMLINE_DATA_DIR": str(db_path.parent),
            "WARMLINE_DEBUG": "0",  # no query log
            "WARMLINE_LOG_LEVEL": "WARNING",
            "WARMLINE_EMBEDDED_WORKER": "0",
        }
    )
    import django

    django.setup()


def merge_result(name: str, key: str, data: dict) -> None:
    """Store ``data`` under ``key`` in ``results/<name>.json``, keeping its other keys
    (figures measured apart, by their own scripts, into one results file)."""
    path = RESULTS / f"{name}.json"
    whole = json.loads(path.read_text()) if path.exists() else {}
    whole[key] = data
    path.write_text(json.dumps(whole, indent=2) + "\n")
    print(json.dumps(data, indent=2))
