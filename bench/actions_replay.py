"""Replay of the 520 tau-bench retail tasks (train + dev) through the store engine.

Run: .venv/bin/python bench/actions_replay.py
Data: WARMLINE_DATASETS (default ../shared/datasets)/tau_retail (sierra-research/tau-bench
``tau_bench/envs/retail``, MIT). Writes bench/results/actions_replay.json.

``replay_seconds`` is the median of REPEATS full replays (every task on a fresh copy of
the loaded store, results compared afterwards); loading the store is timed apart, and
the ``warmline actions replay`` command is timed once end to end (process start included).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import write_result  # noqa: E402
from warmline.actions.replay import compare, load_tasks, replay  # noqa: E402
from warmline.actions.store import StoreData  # noqa: E402

REPEATS = 5
SPLITS = ("train", "dev")


def main() -> None:
    datasets = Path(os.environ.get("WARMLINE_DATASETS", ROOT.parent / "shared" / "datasets"))
    retail = datasets / "tau_retail"
    started = time.perf_counter()
    store = StoreData.load(retail)
    load_seconds = time.perf_counter() - started
    tasks = {split: load_tasks(retail / f"tasks_{split}.json") for split in SPLITS}
    expected = json.loads((retail / "expected_train_dev.json").read_text())

    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        replays = {split: replay(store, tasks[split]) for split in SPLITS}
        timings.append(time.perf_counter() - started)
    replay_seconds = statistics.median(timings)

    n_tasks = sum(len(tasks[s]) for s in SPLITS)
    n_actions = sum(len(t["actions"]) for s in SPLITS for t in tasks[s])
    matched = 0
    refused = 0
    for split in SPLITS:
        bad = {m.index for m in compare(replays[split], expected[split], outputs=True)}
        matched += sum(1 for r in replays[split] if r.index not in bad)
        refused += sum(len(r.refused) for r in replays[split])

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "warmline.settings",
            "WARMLINE_DATA_DIR": tmp,
        }
        cmd = [
            sys.executable,
            "-m",
            "django",
            "actions",
            "replay",
            "--store",
            str(retail),
            "--tasks",
            str(retail / "tasks_train.json"),
            "--out",
            str(Path(tmp) / "out.json"),
        ]
        started = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
        cli_seconds = time.perf_counter() - started

    write_result(
        "actions_replay",
        {
            "replay_tasks": n_tasks,
            "replay_actions": n_actions,
            "replay_refused_actions": refused,
            "replay_seconds": round(replay_seconds, 4),
            "replay_seconds_runs": [round(t, 4) for t in timings],
            "replay_actions_per_s": round(n_actions / replay_seconds),
            "replay_tasks_per_s": round(n_tasks / replay_seconds),
            "store_load_seconds": round(load_seconds, 4),
            "matched_tasks": matched,
            "matched_means": "changed records, refused positions and every action output equal the reference",
            "cli_replay_train_seconds": round(cli_seconds, 3),
            "data": "tau-bench retail (sierra-research/tau-bench, MIT): 500 users, 1000 orders, 50 products",
            "load_average_1m": round(os.getloadavg()[0], 2),
            "note": "wall-clock times on a 2-core machine shared with other work while measured",
        },
    )


if __name__ == "__main__":
    main()
