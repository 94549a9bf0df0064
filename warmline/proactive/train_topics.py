"""Build the shipped topic encoder from shared corpora that are *not* Banking77.

Banking77 is where topic quality is measured, so the shipped basis is fitted on
Bitext customer-support requests and CLINC150 queries only (unlabelled use of
their text). Run: ``.venv/bin/python -m warmline.proactive.train_topics``.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

from warmline.proactive.topics import DEFAULT_MODEL, TopicEncoder


def datasets_dir() -> Path:
    env = os.environ.get("WARMLINE_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "datasets"


def training_texts(root: Path) -> list[str]:
    with open(root / "bitext_support" / "customer_support_sample.csv", encoding="utf-8") as fh:
        bitext = [row["instruction"] for row in csv.DictReader(fh)]
    with open(root / "clinc150" / "train_val.json", encoding="utf-8") as fh:
        clinc = json.load(fh)
    return bitext + [text for split in ("train", "val") for text, _ in clinc[split]]


def main(argv: list[str] | None = None) -> int:
    root = datasets_dir()
    out = Path(argv[0]) if argv else DEFAULT_MODEL
    texts = training_texts(root)
    encoder = TopicEncoder.fit(texts, seed=0, trained_on="bitext_support+clinc150 (train, val)")
    out.parent.mkdir(parents=True, exist_ok=True)
    encoder.save(out)
    print(f"{len(texts)} texts → {out} ({out.stat().st_size / 1e6:.1f} MB, {encoder.dims} dims)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
