"""Known-issue rise: is a climb in an *existing* issue's volume flagged, and how fast?

The emergence bench (bench/trends.py) measures a new issue bursting in. The other half
of the trend rule is "volume rises clearly above its own baseline": here one Banking77
intent that arrives all along at its steady share (~5 a day among 400) gets 48 more a
day for 3 days from day 21-22. Delay = rise messages up to the first flag whose
members are mostly that intent; false alarms = flags whose members are mostly other
intents. Same streams with and without the radius rise test beside the local test.

    .venv/bin/python bench/trends_rise.py   # merges "known_issue_rise" into bench/results/trends.json

Intents: the six reported emergence intents (never used to tune anything), seeds 401-406.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmline.settings")

import statistics  # noqa: E402
import sys  # noqa: E402
from dataclasses import replace  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import django  # noqa: E402

django.setup()

from trends_stream import banking77, generate  # noqa: E402

from bench._common import merge_result  # noqa: E402
from warmline.proactive.topics import TopicStore  # noqa: E402
from warmline.proactive.train_topics import banking77_split, held_out_roles  # noqa: E402
from warmline.proactive.trends import WARMUP, TrendConfig, replay  # noqa: E402


def rise_stream(texts: dict[str, list[str]], rising: str, seed: int) -> list[dict]:
    """Every intent at its steady share of 400 a day for 28 days; ``rising`` gets 48 more a
    day for 3 days from a random moment of day 21 (those records are marked ``burst``)."""
    records = generate(texts, held_out=rising, seed=seed, known=True)
    for r in records:
        r["time"] = datetime.fromisoformat(r["time"]).timestamp()
    return records


def measure(texts, cases, config: TrendConfig) -> dict:
    delays, runs, alarms_total, watched = [], [], 0, 0
    for intent, seed in cases:
        records = rise_stream(texts, intent, seed)
        rise_times = [r["time"] for r in records if r["burst"]]
        start = rise_times[0]
        by_id = {r["id"]: r for r in records}
        watched += sum(
            1 for r in records if not r["burst"] and r["time"] >= records[0]["time"] + WARMUP
        )
        delay, alarms = None, 0
        for event in replay(records, config=config, store=TopicStore()):
            share = sum(by_id[m]["intent"] == intent for m in event["members"]) / len(
                event["members"]
            )
            at = by_id[event["at_message"]]["time"]
            if share >= 0.5:
                if delay is None and at >= start:
                    delay = sum(1 for t in rise_times if t <= at)
            else:
                alarms += 1
        alarms_total += alarms
        runs.append([intent, seed, len(rise_times), delay, alarms])
        delays.append(delay if delay is not None else len(rise_times))  # missed: all of it
    return {
        "median_delay": statistics.median(delays),
        "detected": sum(1 for r in runs if r[3] is not None),
        "false_alarms_per_10k": round(10_000 * alarms_total / watched, 2),
        "runs": runs,
    }


def main() -> int:
    texts = banking77()
    _, held_out = banking77_split(texts)
    _, report = held_out_roles(held_out)
    cases = [(intent, 401 + n) for n, intent in enumerate(report)]
    load = round(os.getloadavg()[0], 2)
    result = {
        "command": ".venv/bin/python bench/trends_rise.py",
        "load_average_1min_at_start": load,
        "stream": "28 days, 400 a day over all 77 intents; the rising intent +48 a day for 3 "
        "days from day 21-22 (about ten times its own rate); runs: [intent, seed, rise "
        "messages, delay (None: never), false alarms]",
        "default": measure(texts, cases, TrendConfig()),
        "local_test_alone": measure(
            texts, cases, replace(TrendConfig(), rise_alpha_beside_local=None)
        ),
    }
    merge_result("trends", "known_issue_rise", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
