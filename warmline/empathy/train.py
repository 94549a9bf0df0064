"""Train the shipped signal models from the shared labelled data (reproducible, seeded).

Recipe (see docs/signals.md):

1. *Text sentiment regressor* — ridge regression on hashed word features
   (:mod:`warmline.empathy.features`) with targets from the VADER human-rated ground
   truths (mean rating / 4, clipped) and GoEmotions train comments whose labels are all
   positive (+0.5), all negative (−0.5) or only neutral (0).
2. *Tweet classifier* — a 3-class logistic regression on the same hashed features,
   fitted on TweetEval validation: in-domain words (short, informal, @-mentions) that
   the rated corpora lack.
3. *Care cues* — one logistic regression per cue on GoEmotions train with the label
   mapping :data:`CARE_CUE_MAP`; the decision threshold of each cue is chosen on a seeded
   15 % slice of train (never on dev) and the model is then refitted on all of train.
4. *Sentiment stacker* — a 3-class, class-balanced logistic regression fitted on
   TweetEval validation over the text score, VADER's compound/neg/neu/pos, the six cue
   probabilities and the tweet classifier's P(neg) and P(pos). The tweet classifier's
   inputs to the stacker are out-of-fold (5 seeded folds), so the stacker learns how far
   to trust it on text it has not seen. Its P(pos) − P(neg) is the sentiment score and
   its arg-max the label. Because the stacker sees TweetEval validation,
   ``bench/signals.py`` reports TweetEval figures out-of-fold (nested).

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
TWEET_C = 1.0
STACK_FOLDS = 5
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


def stack_features(
    text_score: np.ndarray,
    vader: np.ndarray,
    cue_prob: np.ndarray,
    tweet_prob: np.ndarray,
    polarity_prob: np.ndarray,
) -> np.ndarray:
    """Stacker input: clipped text score, VADER's four numbers, their interaction, the
    care-cue probabilities, the tweet classifier's and the polarity classifier's P(neg),
    P(pos).

    Keep in step with ``Analyser._stack_x`` (one row at a time there)."""
    m = np.clip(text_score, -1.0, 1.0)
    return np.column_stack(
        [m, vader, m * vader[:, 0], cue_prob, tweet_prob[:, [0, 2]], polarity_prob[:, [0, 2]]]
    )


@dataclass
class Linear:
    """A linear scorer over hashed features: ``x @ coef + intercept`` (coef per bucket)."""

    coef: np.ndarray
    intercept: float

    def predict(self, x) -> np.ndarray:
        return np.asarray(x @ self.coef).ravel() + self.intercept


@dataclass
class Softmax:
    """A multi-class linear scorer over hashed features: coef (buckets, classes)."""

    coef: np.ndarray
    intercept: np.ndarray

    def predict_proba(self, x) -> np.ndarray:
        z = np.asarray(x @ self.coef) + self.intercept
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def fit_tweet_classifier(x, labels: np.ndarray) -> Softmax:
    """3-class logistic regression on hashed features (``x`` from ``features.matrix``)."""
    from sklearn.linear_model import LogisticRegression

    # Fit on the buckets that occur (a few tens of thousands of 2^18): the same optimum,
    # since an unseen bucket's weight stays 0 under the L2 penalty, at a tenth of the cost.
    x = x.tocsr()
    used = np.unique(x.indices)
    m = LogisticRegression(C=TWEET_C, max_iter=2000, random_state=SEED).fit(x[:, used], labels)
    if list(m.classes_) != [0, 1, 2]:
        raise ValueError("the tweet classifier needs all three classes")
    coef = np.zeros((x.shape[1], 3), dtype=np.float32)
    coef[used] = m.coef_.T
    return Softmax(coef, m.intercept_.astype(np.float64))


def stack_folds(n: int) -> np.ndarray:
    """Seeded fold id per row for out-of-fold stacking."""
    return np.random.default_rng(SEED).permutation(n) % STACK_FOLDS


def tweet_probs_oof(x, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold tweet-classifier probabilities: each row scored by a model without it."""
    out = np.zeros((len(labels), 3))
    for k in np.unique(folds):
        held = folds == k
        out[held] = fit_tweet_classifier(x[~held], labels[~held]).predict_proba(x[held])
    return out


def fit_polarity_classifier(root: Path) -> Softmax:
    """3-class (negative / neutral / positive) classifier on GoEmotions train's polarity
    subset (see :func:`goemotions_sentiment`): Reddit comments, no text shared with
    TweetEval or the rated ground truths."""
    texts, y = goemotions_sentiment(root)
    return fit_tweet_classifier(features.matrix(texts), np.where(y > 0, 2, np.where(y < 0, 0, 1)))


def cue_probs(weights: np.ndarray, intercept: np.ndarray, x) -> np.ndarray:
    """Care-cue probabilities for rows of ``x`` from the cue columns of the weights."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(x @ weights) + intercept)))


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


def train_semantic(
    texts: list[str], stack_x: np.ndarray, labels: np.ndarray, out_dir: Path, log
) -> Path | None:
    """With the ``semantic`` extra installed: the stacker again, MiniLM embeddings appended."""
    from . import semantic

    if not semantic.available():
        log("semantic extra not installed: no semantic stacker")
        return None
    emb = semantic.Encoder().encode(texts)
    stacker = fit_stacker(np.column_stack([stack_x, emb]), labels)
    path = out_dir / semantic.SEMANTIC_FILE
    np.savez_compressed(
        path,
        stacker_coef=stacker.coef_,
        stacker_intercept=stacker.intercept_,
        stacker_classes=stacker.classes_,
        seed=np.int64(SEED),
    )
    log(f"semantic stacker on {len(texts)} tweets -> {path}")
    return path


def _f16(a: np.ndarray) -> np.ndarray:
    """The weights as shipped (float16), so the stacker sees what inference will compute."""
    return a.astype(np.float16).astype(np.float32)


def train(root: Path, out_dir: Path, log: Callable[[str], None] = print) -> Path:
    """Fit every model from ``root`` and write ``out_dir/signals.npz``.

    One BLAS/OpenMP thread: these fits are small, and on a shared machine extra threads
    spin instead of working (measured: 10x more CPU for the same tweet classifier)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _train(root, out_dir, log)


def _train(root: Path, out_dir: Path, log: Callable[[str], None]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    texts, targets = sentiment_corpus(root)
    log(f"text regressor on {len(texts)} texts")
    text_model = fit_text_regressor(texts, targets)

    cue_coef, cue_intercept, cue_thresholds = fit_cues(root, log)
    polarity_model = fit_polarity_classifier(root)
    log("polarity classifier on GoEmotions train (negative / neutral / positive)")

    tw_texts, tw_labels = datasets.tweeteval_val(root)
    tw_y = np.array(tw_labels)
    tw_x = features.matrix(tw_texts)
    tweet_model = fit_tweet_classifier(tw_x, tw_y)
    log(f"tweet classifier on {len(tw_texts)} TweetEval validation tweets")
    stack_x = stack_features(
        text_model.predict(tw_x),
        vader_features(tw_texts),
        cue_probs(_f16(cue_coef), cue_intercept, tw_x),
        tweet_probs_oof(tw_x, tw_y, stack_folds(len(tw_y))),
        Softmax(_f16(polarity_model.coef), polarity_model.intercept).predict_proba(tw_x),
    )
    stacker = fit_stacker(stack_x, tw_y)
    log("stacker on the same tweets (tweet classifier out-of-fold)")

    train_semantic(tw_texts, stack_x, tw_y, out_dir, log)

    weights = np.column_stack(
        [text_model.coef, cue_coef, tweet_model.coef, polarity_model.coef]
    ).astype(np.float16)
    path = out_dir / MODEL_FILE
    np.savez_compressed(
        path,
        weights=weights,
        text_intercept=np.float64(text_model.intercept),
        cue_names=np.array(CUES),
        cue_intercept=cue_intercept,
        cue_threshold=cue_thresholds,
        tweet_intercept=tweet_model.intercept,
        polarity_intercept=polarity_model.intercept,
        stacker_coef=stacker.coef_,
        stacker_intercept=stacker.intercept_,
        stacker_classes=stacker.classes_,
        n_buckets=np.int64(features.N_BUCKETS),
        seed=np.int64(SEED),
    )
    log(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return path
