"""``warmline signals score``: one JSON object per input line, in order, no database."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

REPO = Path(__file__).resolve().parents[2]
KEYS = {"language", "sentiment", "label", "emotions", "urgency", "churn_intent"}


def test_score_file(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(
        "Thank you, great help!\nQuiero darme de baja\n\nI am furious\n", encoding="utf-8"
    )
    out = io.StringIO()
    call_command("signals", "score", "--input", str(src), stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 4
    assert all(KEYS <= set(r) for r in rows)
    assert rows[0]["label"] == "positive"
    assert rows[1]["language"] == "es" and rows[1]["churn_intent"] >= 0.8
    assert rows[2]["label"] == "neutral"
    assert rows[3]["label"] == "negative"


def test_score_stdin_without_database(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "warmline.settings"}
    # A database URL that cannot work: the command must never touch it.
    env["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
    proc = subprocess.run(
        [sys.executable, "-m", "django", "signals", "score"],
        input="I love it\nthis is awful\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert all(isinstance(r["emotions"], dict) and isinstance(r["sentiment"], float) for r in rows)
