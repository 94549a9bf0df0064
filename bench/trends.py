"""Topic quality, emergence detection and speed of Warmline's trend detection on Banking77.

    .venv/bin/python bench/trends.py            # prints JSON, writes bench/results/trends.json

Data: Banking77 train (CC BY 4.0, PolyAI) and Bitext customer support (CDLA-Sharing-1.0)
from ``WARMLINE_DATASETS``. The shipped encoder never saw the odd-position Banking77 intents
(``train_topics.banking77_split``); it was distilled from MiniLM on the other texts.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # "one core" figures: no BLAS threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmline.settings")

import csv  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from trends_stream import banking77, datasets_dir, generate  # noqa: E402

from bench._common import merge_result  # noqa: E402
from warmline.proactive.topics import TopicStore, default_encoder  # noqa: E402
from warmline.proactive.train_topics import banking77_split, held_out_roles  # noqa: E402
from warmline.proactive.trends import WARMUP, TrendConfig, replay  # noqa: E402


def evaluation_cases() -> list[tuple[str, int]]:
    """The six reported emergence intents: from the half of Banking77 the encoder never saw,
    disjoint from the six the thresholds were tuned on (bench/trends_tune.py); two streams
    each (seeds 1-6, as first reported, and 7-12), so one unlucky stream moves the median
    less. Tuning uses seeds from 100 up."""
    _, held_out = banking77_split(banking77())
    _, report = held_out_roles(held_out)
    return [(intent, first + n) for first in (1, 7) for n, intent in enumerate(report)]


def cluster_quality(rows: list[dict]) -> dict:
    """NMI/ARI after a full re-clustering, online leader clustering alongside."""
    rows = random.Random(0).sample(rows, len(rows))
    gold = [r["category"] for r in rows]
    store = TopicStore()
    store.add_many(
        {"id": n, "customer": "c", "text": r["text"], "time": float(n)} for n, r in enumerate(rows)
    )
    online = list(store.topic_of)
    t = time.perf_counter()
    store.recluster()
    return {
        "nmi": round(normalized_mutual_info_score(gold, store.topic_of), 4),
        "ari": round(adjusted_rand_score(gold, store.topic_of), 4),
        "topics": len(store.topics),
        "online_nmi": round(normalized_mutual_info_score(gold, online), 4),
        "online_ari": round(adjusted_rand_score(gold, online), 4),
        "online_topics": len(set(online)),
        "recluster_10k_seconds": round(time.perf_counter() - t, 2),
    }


def neighbour_accuracy(rows: list[dict], encoder=None) -> float:
    """1-NN accuracy on Banking77 texts of the held-out intents that are not reported (the
    tuning ones included): each such text's nearest other text among every non-reported
    intent's texts, by cosine, must have its intent. How well the representation keeps
    unseen intents' paraphrases together, the property detection needs."""
    import numpy as np

    _, held_out = banking77_split(r["category"] for r in rows)
    _, report = held_out_roles(held_out)
    gallery = [r for r in rows if r["category"] not in set(report)]
    labels = np.array([r["category"] for r in gallery])
    queries = np.flatnonzero(np.isin(labels, sorted(set(held_out) - set(report))))
    v = (encoder or default_encoder()).encode([r["text"] for r in gallery])
    sims = v[queries] @ v.T
    sims[np.arange(len(queries)), queries] = -np.inf
    return round(float((labels[sims.argmax(axis=1)] == labels[queries]).mean()), 4)


def emergence(
    texts: dict[str, list[str]],
    *,
    cases: list[tuple[str, int]] | None = None,
    config: TrendConfig | None = None,
    store_kw: dict | None = None,
    detect_encoder=None,
) -> dict:
    delays, runs, false_alarms, background_watched = [], [], 0, 0
    for held_out, seed in cases or evaluation_cases():
        records = generate(texts, held_out=held_out, seed=seed)
        for r in records:
            r["time"] = datetime.fromisoformat(r["time"]).timestamp()
        burst = [r["id"] for r in records if r["burst"]]
        burst_set = set(burst)
        start = records[0]["time"]
        background_watched += sum(
            1 for r in records if not r["burst"] and r["time"] >= start + WARMUP
        )
        delay, alarms = None, 0
        for event in replay(
            records,
            config=config,
            store=TopicStore(**(store_kw or {})),
            detect_encoder=detect_encoder,
        ):
            share = sum(m in burst_set for m in event["members"]) / len(event["members"])
            if share >= 0.5:
                if delay is None:
                    delay = (
                        burst.index(event["at_message"]) + 1
                        if event["at_message"] in burst_set
                        else None
                    )
            else:
                alarms += 1
        false_alarms += alarms
        runs.append(
            {
                "held_out": held_out,
                "seed": seed,
                "burst_messages": len(burst),
                "delay": delay,
                "false_alarms": alarms,
            }
        )
        # An undetected burst counts as a delay of the whole burst (it is never below target).
        delays.append(delay if delay is not None else len(burst))
    ordered = sorted(delays)
    return {
        "median_detection_delay": statistics.median(delays),
        "median_detection_delay_first_six": statistics.median(delays[:6]),
        "delay_quartiles": [ordered[len(ordered) // 4], ordered[(3 * len(ordered)) // 4]],
        "within_5": sum(1 for d in delays if d <= 5),
        "detected": sum(1 for r in runs if r["delay"] is not None),
        "false_alarms": false_alarms,
        "background_messages_after_warmup": background_watched,
        "false_alarms_per_10k": round(10_000 * false_alarms / background_watched, 2),
        "runs": runs,
    }


def assign_speed(rows: list[dict]) -> float:
    store = TopicStore(default_encoder())
    records = [
        {"id": n, "customer": "c", "text": r["text"], "time": float(n)} for n, r in enumerate(rows)
    ]
    t = time.perf_counter()
    for i in range(0, len(records), 256):
        store.add_many(records[i : i + 256])
    return round(len(records) / (time.perf_counter() - t), 1)


def perturbed_corpus(n: int, seed: int = 0) -> list[str]:
    """100k realistic-length messages: real texts with words dropped, swapped or misspelt."""
    root = datasets_dir()
    with open(root / "banking77" / "train.csv", encoding="utf-8") as fh:
        base = [r["text"] for r in csv.DictReader(fh)]
    with open(root / "bitext_support" / "customer_support_sample.csv", encoding="utf-8") as fh:
        base += [r["instruction"] for r in csv.DictReader(fh)]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choice(base).split()
        if len(words) > 3 and rng.random() < 0.5:
            words.pop(rng.randrange(len(words)))
        if len(words) > 2 and rng.random() < 0.3:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        if rng.random() < 0.3:
            i = rng.randrange(len(words))
            w = words[i]
            if len(w) > 3:
                j = rng.randrange(len(w) - 1)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        out.append(" ".join(words))
    return out


def recluster_100k() -> dict:
    texts = perturbed_corpus(100_000)
    store = TopicStore()
    t = time.perf_counter()
    for i in range(0, len(texts), 1000):
        store.add_many(
            {"id": i + j, "customer": "c", "text": x, "time": float(i + j)}
            for j, x in enumerate(texts[i : i + 1000])
        )
    assign_s = time.perf_counter() - t
    t = time.perf_counter()
    store.recluster()
    return {
        "recluster_100k_seconds": round(time.perf_counter() - t, 2),
        "recluster_100k_topics": len(store.topics),
        "online_100k_seconds": round(assign_s, 2),
    }


class CachedSemantic:
    """The optional MiniLM encoder (``semantic`` extra), each distinct text encoded once:
    the streams reuse Banking77 texts, and encoding is deterministic."""

    def __init__(self) -> None:
        from warmline.empathy.semantic import Encoder

        self.encoder, self.cache = Encoder(), {}

    def encode(self, texts: list[str]):
        import numpy as np

        todo = sorted({t for t in texts if t not in self.cache})
        if todo:
            self.cache.update(zip(todo, self.encoder.encode(todo), strict=True))
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384))


def semantic_detection() -> int:
    """Emergence only, the detector on MiniLM vectors (topics unchanged); merged into the
    results file under ``semantic_detection``. Not the product default."""
    load = round(os.getloadavg()[0], 2)
    found = emergence(banking77(), detect_encoder=CachedSemantic())
    found.update(
        {
            "command": ".venv/bin/python bench/trends.py --semantic",
            "load_average_1min_at_start": load,
            "note": "optional: the detector's vectors from all-MiniLM-L6-v2 int8 (the semantic "
            "extra), same thresholds as the default (not re-tuned); topics still use the "
            "shipped encoder. MiniLM encodes ~200 msgs/s on one core (texts cached here).",
        }
    )
    merge_result("trends", "semantic_detection", found)
    return 0


def main() -> int:
    if "--semantic" in sys.argv[1:]:
        return semantic_detection()
    with open(datasets_dir() / "banking77" / "train.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    result: dict = {
        "command": ".venv/bin/python bench/trends.py",
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
    }
    _, held_out = banking77_split(r["category"] for r in rows)
    unseen = set(held_out)
    result["cluster_quality_on"] = (
        f"Banking77 train, the {len(unseen)} intents the encoder never saw "
        "(nmi/ari); all 77 intents alongside (all_*, includes the encoder's training intents)"
    )
    result.update(cluster_quality([r for r in rows if r["category"] in unseen]))
    everything = cluster_quality(rows)
    result.update({f"all_{k}": v for k, v in everything.items()})
    result["held_out_1nn_accuracy"] = neighbour_accuracy(rows)
    result.update(emergence(banking77()))
    result["assign_msgs_per_s"] = assign_speed(rows)
    result.update(recluster_100k())
    result["encoder"] = default_encoder().trained_on
    _, held_out = banking77_split(banking77())
    tune, report = held_out_roles(held_out)
    result["splits"] = {
        "encoder_trained_on_banking77_intents": "even positions of the sorted intent names",
        "cluster_quality_intents": "odd positions (never seen by the encoder)",
        "thresholds_tuned_on": tune,
        "emergence_reported_on": report,
        "tuned_with": ".venv/bin/python bench/trends_tune.py --seeds 100 200 on 12 tuning "
        "streams. Distilled encoder: (local_alpha, density_weight) = (2e-3, 0.4 / 0.5 / 0.6 / "
        "0.7 / 0.8 / 1.0) and (1e-3, 0.6 / 1.0); chose local_alpha 2e-3, density_weight 0.6 "
        "(tuning: median delay 4.0, 0.69 false alarms per 10k). Before, with the LDA "
        "encoder: (1e-3, 1.0) (2e-3, 1.0) (3e-3, 1.0) (2e-3, 0.8) (2e-3, 1.2), --density-k "
        "5 / 20, --similarity 0.7 0.75 0.8 --alpha 1e-5 1e-6 (neighbour_similarity 0.75)",
    }
    result["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    result["note"] = (
        "2-core machine shared with other work while measuring; assignment speed is one "
        "process, BLAS limited to one thread"
    )
    result["machine"] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    out = ROOT / "bench" / "results" / "trends.json"
    if out.exists():  # measured apart (trends_live.py, trends_rise.py, --semantic): keep them
        previous = json.loads(out.read_text())
        for key in ("live_detection", "semantic_detection", "known_issue_rise"):
            if key in previous:
                result[key] = previous[key]
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
