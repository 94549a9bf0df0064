"""Build the shipped topic encoder from shared intent data, keeping evaluation intents out.

The shipped encoder is *distilled*: word + character n-gram TF-IDF mapped linearly
(:meth:`TopicEncoder.fit_distilled`) to approximate MiniLM's sentence vectors
(all-MiniLM-L6-v2 int8, the optional ``semantic`` extra, which must be installed to
train; it is not needed at run time). The texts whose MiniLM vectors are the targets:

* CLINC150 train + val (150 intents, CC BY 3.0),
* Bitext customer support (27 intents, CDLA-Sharing-1.0),
* Banking77 train, **only the "training half" of its intents**
  (:func:`banking77_split`: the sorted intent names at even positions).

The other half of the Banking77 intents (odd positions) is never seen by the
encoder, not even as unlabelled text: topic quality (NMI/ARI) and the emergence test
are measured on it, and the detection thresholds are tuned on a few of those intents
and evaluated on a disjoint few (see ``bench/trends.py``). Run:

    .venv/bin/python -m warmline.proactive.train_topics     # ~4 min on one core
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

from warmline.proactive.topics import DEFAULT_MODEL, TopicEncoder

TRAINED_ON = (
    "clinc150 (train, val) + bitext_support + banking77 train (even-position intents only); "
    "TF-IDF word+char → SVD 2400 → ridge to all-MiniLM-L6-v2 vectors, reduced rank 128"
)


def datasets_dir() -> Path:
    env = os.environ.get("WARMLINE_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "datasets"


def banking77_rows(root: Path) -> list[dict]:
    with open(root / "banking77" / "train.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def banking77_split(intents) -> tuple[list[str], list[str]]:
    """(training intents, held-out intents): a fixed rule, decided before any measurement."""
    ordered = sorted(set(intents))
    return ordered[0::2], ordered[1::2]


def held_out_roles(held_out: list[str]) -> tuple[list[str], list[str]]:
    """Held-out intents used to tune detection thresholds, and the disjoint ones to report."""
    picked = random.Random(77).sample(sorted(held_out), 12)
    return picked[:6], picked[6:]


def training_data(root: Path) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    with open(root / "clinc150" / "train_val.json", encoding="utf-8") as fh:
        clinc = json.load(fh)
    for split in ("train", "val"):
        for text, intent in clinc[split]:
            texts.append(text)
            labels.append(f"clinc:{intent}")
    with open(root / "bitext_support" / "customer_support_sample.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["instruction"])
            labels.append(f"bitext:{row['intent']}")
    rows = banking77_rows(root)
    train_intents, _ = banking77_split(r["category"] for r in rows)
    keep = set(train_intents)
    for row in rows:
        if row["category"] in keep:
            texts.append(row["text"])
            labels.append(f"banking77:{row['category']}")
    return texts, labels


def teacher_vectors(texts: list[str]) -> np.ndarray:
    """MiniLM's unit vectors for ``texts`` (each distinct text encoded once, one thread)."""
    from warmline.empathy.semantic import Encoder, available

    if not available():
        raise SystemExit(
            "training the topic encoder needs the semantic extra (MiniLM): "
            "pip install -e '.[semantic]'"
        )
    distinct = sorted(set(texts))
    vectors = Encoder(threads=1).encode(distinct)
    row = {t: i for i, t in enumerate(distinct)}
    return vectors[[row[t] for t in texts]]


def main(argv: list[str] | None = None) -> int:
    root = datasets_dir()
    out = Path(argv[0]) if argv else DEFAULT_MODEL
    texts, labels = training_data(root)
    encoder = TopicEncoder.fit_distilled(
        texts, teacher_vectors(texts), seed=0, trained_on=TRAINED_ON
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    encoder.save(out)
    print(
        f"{len(texts)} texts, {len(set(labels))} intents → {out} "
        f"({out.stat().st_size / 1e6:.1f} MB, {encoder.dims} dims)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
