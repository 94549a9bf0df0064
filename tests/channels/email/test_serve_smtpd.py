"""`warmline serve` also runs the inbound SMTP server when WARMLINE_SMTPD is set."""

from __future__ import annotations

import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time

import pytest

from .sink import free_port


def _warmline(env, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "warmline", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.timeout(240)
def test_serve_runs_smtpd_from_the_setting(tmp_path):
    db = tmp_path / "serve.sqlite3"
    smtp_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "WARMLINE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{db}",
        "DJANGO_SETTINGS_MODULE": "warmline.settings",
        "WARMLINE_SMTPD": f"127.0.0.1:{smtp_port}",
        "WARMLINE_EMBEDDED_WORKER": "0",
    }
    env.pop("WARMLINE_TESTING", None)
    _warmline(env, "migrate", "--verbosity", "0")
    _warmline(env, "createworkspace", "--name", "Acme", "--slug", "acme")
    out = _warmline(
        env, "channel", "add-email", "--workspace", "acme", "--address", "help@brand.example"
    )
    assert "help@brand.example receives mail for acme" in out
    proc = subprocess.Popen(
        [sys.executable, "-m", "warmline", "serve", "--host", "127.0.0.1", "--port",
         str(http_port), "--no-migrate"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                smtp = smtplib.SMTP("127.0.0.1", smtp_port, timeout=10)
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "smtpd did not start"
                time.sleep(0.3)
        raw = (
            b"From: Ana <ana@example.com>\r\nTo: help@brand.example\r\nSubject: Hi\r\n"
            b"Message-ID: <serve-1@example.com>\r\n\r\nHello from SMTP.\r\n"
        )
        with smtp:
            assert smtp.sendmail("ana@example.com", ["help@brand.example"], raw) == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.sendmail("ana@example.com", ["nobody@brand.example"], raw)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT text FROM conversations_timelineentry WHERE external_id = ?",
            ["serve-1@example.com"],
        ).fetchall()
    assert rows == [("Hello from SMTP.",)]
    assert "Inbound SMTP server listening" in proc.stdout.read()
