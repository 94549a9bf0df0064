"""Readers for the shared labelled data sets (``WARMLINE_DATASETS``); never copied into the repo."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GROUND_TRUTHS = {
    "tweets": "tweets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "editorials": "nytEditorialSnippets_GroundTruth.txt",
}


def default_datasets_dir() -> Path:
    env = os.environ.get("WARMLINE_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "datasets"


@dataclass(frozen=True)
class Rated:
    """One human-rated text: mean rating on VADER's −4..+4 scale."""

    id: str
    rating: float
    text: str


def ground_truth(root: Path, name: str) -> list[Rated]:
    rows = []
    path = root / "sentiment" / GROUND_TRUTHS[name]
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) == 3:
                rows.append(Rated(parts[0], float(parts[1]), parts[2]))
    return rows


def tweeteval_val(root: Path) -> tuple[list[str], list[int]]:
    """TweetEval sentiment validation split: texts and labels (0 neg, 1 neu, 2 pos)."""
    base = root / "sentiment"
    texts = (base / "tweeteval_val_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [int(x) for x in (base / "tweeteval_val_labels.txt").read_text().split()]
    if len(texts) != len(labels):
        raise ValueError("tweeteval text/label files differ in length")
    return texts, labels


def goemotions_labels(root: Path) -> list[str]:
    return (root / "goemotions" / "labels.txt").read_text().split()


def goemotions(root: Path, split: str) -> list[tuple[str, list[str]]]:
    """(text, [label names]) for ``split`` in {"train", "dev"}."""
    names = goemotions_labels(root)
    rows = []
    with open(root / "goemotions" / f"{split}.tsv", encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                rows.append((parts[0], [names[int(i)] for i in parts[1].split(",") if i]))
    return rows
