"""Reproducible Banking77 contact streams for the emergence test.

Background intents arrive as steady Poisson processes (rates follow each
intent's share of Banking77, jittered per seed); one held-out intent is absent
until ``burst_day`` and then arrives at ``burst_per_day`` for ``burst_days``.
About ``follow_up`` of all messages are a customer writing again about the same
thing, so "different customers" matters. Texts are the real Banking77 texts,
reused in shuffled order when an intent runs out.

    .venv/bin/python bench/trends_stream.py --held-out card_arrival --seed 1 > stream.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2025, 3, 3, tzinfo=UTC)
DAY = 86400.0


def datasets_dir() -> Path:
    env = os.environ.get("WARMLINE_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def banking77(root: Path | None = None) -> dict[str, list[str]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    with open((root or datasets_dir()) / "banking77" / "train.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            by_intent[row["category"]].append(row["text"])
    return dict(by_intent)


def _poisson_times(
    rng: random.Random, rate_per_day: float, start: float, end: float
) -> list[float]:
    times, t = [], start
    while rate_per_day > 0:
        t += rng.expovariate(rate_per_day / DAY)
        if t >= end:
            break
        times.append(t)
    return times


def generate(
    texts: dict[str, list[str]],
    *,
    held_out: str,
    seed: int = 0,
    days: int = 28,
    background_per_day: float = 400.0,
    burst_day: float = 21.0,
    burst_per_day: float = 48.0,
    burst_days: float = 3.0,
    follow_up: float = 0.1,
    known: bool = False,
) -> list[dict]:
    """Time-ordered records with ``intent`` and ``burst`` kept for scoring (replay ignores them).

    ``known``: the burst intent also arrives all along at its steady share, and the burst
    is a rise of a known issue (bench/trends_rise.py) instead of a new one.
    """
    rng = random.Random(seed)
    background = sorted(i for i in texts if known or i != held_out)
    weights = {i: len(texts[i]) * rng.lognormvariate(0, 0.3) for i in background}
    total = sum(weights.values())
    events: list[tuple[float, str, bool]] = []
    for intent in background:
        rate = background_per_day * weights[intent] / total
        events += [(t, intent, False) for t in _poisson_times(rng, rate, 0.0, days * DAY)]
    burst_start = burst_day * DAY + rng.uniform(0, DAY)
    events += [
        (t, held_out, True)
        for t in _poisson_times(rng, burst_per_day, burst_start, burst_start + burst_days * DAY)
    ]
    events.sort()
    decks: dict[str, list[str]] = {}
    recent: dict[str, list[str]] = defaultdict(list)  # intent -> customers who raised it
    records = []
    for n, (t, intent, burst) in enumerate(events):
        deck = decks.get(intent)
        if not deck:
            deck = decks[intent] = rng.sample(texts[intent], len(texts[intent]))
        if recent[intent] and rng.random() < follow_up:
            customer = rng.choice(recent[intent][-20:])
        else:
            customer = f"c{rng.randrange(1_000_000):06d}"
            recent[intent].append(customer)
        records.append(
            {
                "id": f"m{n:06d}",
                "customer": customer,
                "text": deck.pop(),
                "time": (START + timedelta(seconds=t)).isoformat(),
                "intent": intent,
                "burst": burst,
            }
        )
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held-out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=28)
    args = parser.parse_args(argv)
    for record in generate(banking77(), held_out=args.held_out, seed=args.seed, days=args.days):
        sys.stdout.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
