"""Train the shipped signal models from the shared labelled data (reproducible, seeded).

Recipe (see docs/signals.md):

1. *Text sentiment regressor* — ridge regression on hashed word features
   (:mod:`warmline.empathy.features`) with targets from the VADER human-rated ground
   truths (mean rating / 4, clipped) and GoEmotions train comments whose labels are all
   positive (+0.5), all negative (−0.5) or only neutral (0).
2. *Sentiment stacker* — a 3-class, class-balanced logistic regression over the text
   score and VADER's compound/neg/neu/pos, fitted on TweetEval validation. Its
   P(pos) − P(neg) is the sentiment score and its arg-max the label. Because the stacker
   sees TweetEval validation, ``bench/signals.py`` reports TweetEval figures out-of-fold.
3. *Care cues* — one logistic regression per cue on GoEmotions train with the label
   mapping :data:`CARE_CUE_MAP`; the decision threshold of each cue is chosen on a seeded
   15 % slice of train (never on dev) and the model is then refitted on all of train.

Everything lands in one compressed ``.npz`` (no pickle): weights as float16.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import datasets, features
from .lexicon import CUES

SEED = 20240601
MODEL_FILE = "signals.npz"
RIDGE_ALPHA = 0.6
STACKER_C = 1.0
CUE_C = 4.0
RATING_SCALE = 1.3 / 4.0  # ratings −4..4 -> about −1.3..1.3, clipped to [−1, 1]

# GoEmotions' 28 labels -> care cues. Labels not listed (admiration, approval, caring,
# curiosity, desire, disapproval, embarrassment, optimism, pride, realization, remorse,
# surprise, neutral) do not mark any care cue.
CARE_CUE_MAP: dict[str, tuple[str, ...]] = {
    "frustration": ("anger", "annoyance", "disappointment", "disgust"),
    "confusion": ("confusion",),
    "anxiety": ("fear", "nervousness"),
    "sadness": ("sadness", "grief"),
    "gratitude": ("gratitude",),
    "joy": ("joy", "amusement", "excitement", "love", "relief"),
}

# GoEmotions' own sentiment grouping (Demszky et al. 2020); ambiguous labels are skipped.
GOEMOTIONS_POSITIVE = frozenset(
    "admiration amusement approval caring desire excitement gratitude joy love optimism "
    "pride relief".split()
)
GOEMOTIONS_NEGATIVE = frozenset(
    "anger annoyance disappointment disapproval disgust embarrassment fear grief "
    "nervousness remorse sadness".split()
)


def cue_targets(labels: Sequence[Sequence[str]]) -> np.ndarray:
    """(n, len(CUES)) 0/1 matrix: does each GoEmotions example carry each care cue?"""
    y = np.zeros((len(labels), len(CUES)), dtype=np.int8)
    for i, names in enumerate(labels):
        for j, cue in enumerate(CUES):
            if any(n in CARE_CUE_MAP[cue] for n in names):
                y[i, j] = 1
    return y


def goemotions_sentiment(root: Path) -> tuple[list[str], np.ndarray]:
    texts, y = [], []
    for text, names in datasets.goemotions(root, "train"):
        s = set(names)
        if s <= GOEMOTIONS_POSITIVE:
            texts.append(text)
            y.append(0.5)
        elif s <= GOEMOTIONS_NEGATIVE:
            texts.append(text)
            y.append(-0.5)
        elif s == {"neutral"}:
            texts.append(text)
            y.append(0.0)
    return texts, np.array(y)


def vader_features(texts: Sequence[str]) -> np.ndarray:
    """VADER's compound, neg, neu, pos per text — the stacker's baseline inputs."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    v = SentimentIntensityAnalyzer()
    rows = []
    for t in texts:
        d = v.polarity_scores(t)
        rows.append((d["compound"], d["neg"], d["neu"], d["pos"]))
    return np.array(rows, dtype=np.float64)


def stack_features(text_score: np.ndarray, vader: np.ndarray) -> np.ndarray:
    """Stacker input: clipped text score, VADER's four numbers, and their interaction."""
    m = np.clip(text_score, -1.0, 1.0)
    return np.column_stack([m, vader, m * vader[:, 0]])


@dataclass
class Linear:
    """A linear scorer over hashed features: ``x @ coef + intercept`` (coef per bucket)."""

    coef: np.ndarray
    intercept: float

    def predict(self, x) -> np.ndarray:
        return np.asarray(x @ self.coef).ravel() + self.intercept


def fit_text_regressor(texts: Sequence[str], targets: np.ndarray) -> Linear:
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=RIDGE_ALPHA, solver="sparse_cg", random_state=SEED)
    model.fit(features.matrix(texts), np.clip(targets, -1.0, 1.0))
    return Linear(model.coef_.astype(np.float32), float(model.intercept_))


def sentiment_corpus(
    root: Path, exclude: Callable[[str, int], bool] | None = None
) -> tuple[list[str], np.ndarray]:
    """Training texts and targets for the text regressor; ``exclude(name, i)`` drops rows
    (the benchmark holds out folds of the ground truths it reports on)."""
    texts, y = goemotions_sentiment(root)
    texts = list(texts)
    ys = [y]
    for name in datasets.GROUND_TRUTHS:
        rows = datasets.ground_truth(root, name)
        keep = [r for i, r in enumerate(rows) if not (exclude and exclude(name, i))]
        texts.extend(r.text for r in keep)
        ys.append(np.array([r.rating * RATING_SCALE for r in keep]))
    return texts, np.concatenate(ys)


def fit_stacker(x: np.ndarray, labels: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        C=STACKER_C, class_weight="balanced", max_iter=2000, random_state=SEED
    ).fit(x, labels)


def fit_cues(
    root: Path, log: Callable[[str], None] = print
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cue logistic regressions on GoEmotions train: (coef (B, C), intercept, threshold)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    rows = datasets.goemotions(root, "train")
    x = features.matrix([t for t, _ in rows])
    y = cue_targets([names for _, names in rows])
    rng = np.random.default_rng(SEED)
    tune = rng.random(len(rows)) < 0.15
    coef = np.zeros((features.N_BUCKETS, len(CUES)), dtype=np.float32)
    intercept = np.zeros(len(CUES))
    thresholds = np.zeros(len(CUES))
    grid = np.arange(0.05, 0.95, 0.025)
    for j, cue in enumerate(CUES):

        def fit(mask, j=j):
            return LogisticRegression(C=CUE_C, solver="liblinear", random_state=SEED).fit(
                x[mask], y[mask, j]
            )

        p = fit(~tune).predict_proba(x[tune])[:, 1]
        f1s = [f1_score(y[tune, j], p >= t, zero_division=0) for t in grid]
        thresholds[j] = grid[int(np.argmax(f1s))]
        full = fit(np.ones(len(rows), dtype=bool))
        coef[:, j] = full.coef_.ravel()
        intercept[j] = full.intercept_[0]
        log(f"cue {cue}: threshold {thresholds[j]:.3f}, tuning-slice F1 {max(f1s):.3f}")
    return coef, intercept, thresholds


def train(root: Path, out_dir: Path, log: Callable[[str], None] = print) -> Path:
    """Fit every model from ``root`` and write ``out_dir/signals.npz``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts, targets = sentiment_corpus(root)
    log(f"text regressor on {len(texts)} texts")
    text_model = fit_text_regressor(texts, targets)

    tw_texts, tw_labels = datasets.tweeteval_val(root)
    stack_x = stack_features(
        text_model.predict(features.matrix(tw_texts)), vader_features(tw_texts)
    )
    stacker = fit_stacker(stack_x, np.array(tw_labels))
    log(f"stacker on {len(tw_texts)} TweetEval validation tweets")

    cue_coef, cue_intercept, cue_thresholds = fit_cues(root, log)
    weights = np.column_stack([text_model.coef, cue_coef]).astype(np.float16)
    path = out_dir / MODEL_FILE
    np.savez_compressed(
        path,
        weights=weights,
        text_intercept=np.float64(text_model.intercept),
        cue_names=np.array(CUES),
        cue_intercept=cue_intercept,
        cue_threshold=cue_thresholds,
        stacker_coef=stacker.coef_,
        stacker_intercept=stacker.intercept_,
        stacker_classes=stacker.classes_,
        n_buckets=np.int64(features.N_BUCKETS),
        seed=np.int64(SEED),
    )
    log(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return path
