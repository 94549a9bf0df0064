"""Signals for one message: language, sentiment, care cues, urgency, churn intent, evidence.

Pure (no database). The trained weights are loaded once per process, lazily, because
this runs synchronously inside message ingest and must stay at thousands of messages
per second per core.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from . import features, language, lexicon
from .lexicon import CUES
from .train import MODEL_FILE

MODELS_DIR = Path(__file__).resolve().parent / "models"
LABELS = ("negative", "neutral", "positive")
SPANISH_NEUTRAL_BAND = 0.25  # |lexicon score| below this reads as neutral
EVIDENCE_FROM_MODEL = 2  # most telling words shown when only the model fired


@dataclass
class Model:
    # (buckets, 1 + cues + 3 + 3): text sentiment, one per cue, tweet classes, polarity classes
    weights: np.ndarray
    text_intercept: float
    cue_intercept: np.ndarray
    tweet_intercept: np.ndarray
    polarity_intercept: np.ndarray
    cue_threshold: np.ndarray
    stacker_coef: np.ndarray
    stacker_intercept: np.ndarray

    @classmethod
    def load(cls, path: Path) -> Model:
        with np.load(path, allow_pickle=False) as z:
            if tuple(str(c) for c in z["cue_names"]) != CUES:
                raise ValueError(f"{path} was trained for other cues; retrain it")
            if "polarity_intercept" not in z.files:
                raise ValueError(f"{path} predates the tweet and polarity classifiers; retrain it")
            return cls(
                weights=z["weights"].astype(np.float32),
                text_intercept=float(z["text_intercept"]),
                cue_intercept=z["cue_intercept"],
                tweet_intercept=z["tweet_intercept"],
                polarity_intercept=z["polarity_intercept"],
                cue_threshold=z["cue_threshold"],
                stacker_coef=z["stacker_coef"],
                stacker_intercept=z["stacker_intercept"],
            )


class Analyser:
    """Holds the loaded models and VADER; one shared instance per process (see get())."""

    def __init__(self, models_dir: Path = MODELS_DIR):
        self.models_dir = models_dir

    @cached_property
    def model(self) -> Model:
        return Model.load(self.models_dir / MODEL_FILE)

    @cached_property
    def vader(self):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        return SentimentIntensityAnalyzer()

    def text_scores(self, text: str) -> tuple[float, np.ndarray, np.ndarray, list[str], list[int]]:
        """Text-model sentiment, cue probabilities, tweet-class probabilities, feature
        strings and their buckets: one gather over the hashed weights serves all three."""
        feats = features.feature_strings(features.tokens(text))
        buckets = [features.bucket(f) for f in feats]
        unique = list(set(buckets))
        m = self.model
        if len(unique):
            row = m.weights[unique].sum(axis=0) / np.sqrt(len(unique))
        else:
            row = np.zeros(m.weights.shape[1], dtype=np.float32)
        n_cues = len(CUES)
        text_score = float(row[0]) + m.text_intercept
        cue_prob = 1.0 / (1.0 + np.exp(-(row[1 : 1 + n_cues] + m.cue_intercept)))
        tweet_prob = _softmax(row[1 + n_cues : 4 + n_cues] + m.tweet_intercept)
        polarity_prob = _softmax(row[4 + n_cues : 7 + n_cues] + m.polarity_intercept)
        return text_score, cue_prob, np.concatenate([tweet_prob, polarity_prob]), feats, buckets

    def sentiment_english(
        self, text: str, text_score: float, cue_prob: np.ndarray, tweet_prob: np.ndarray
    ) -> tuple[float, str, float]:
        """The stacker over the text models and VADER (same inputs as train.stack_features)."""
        x = self._stack_x(text, text_score, cue_prob, tweet_prob)
        z = self.model.stacker_coef @ x + self.model.stacker_intercept
        p = np.exp(z - z.max())
        p /= p.sum()
        k = int(np.argmax(p))
        return float(p[2] - p[0]), LABELS[k], float(p[k])

    def _stack_x(
        self, text: str, text_score: float, cue_prob: np.ndarray, tweet_prob: np.ndarray
    ) -> np.ndarray:
        d = self.vader.polarity_scores(text)
        m = min(max(text_score, -1.0), 1.0)
        return np.concatenate(
            [
                [m, d["compound"], d["neg"], d["neu"], d["pos"], m * d["compound"]],
                cue_prob,
                tweet_prob[[0, 2, 3, 5]],  # tweet classifier's, then polarity classifier's
            ]
        )

    def stack_row(self, text: str) -> np.ndarray:
        """The sentiment stacker's input for ``text`` (the semantic analyser extends it)."""
        text_score, cue_prob, tweet_prob, _, _ = self.text_scores(text)
        return self._stack_x(text, text_score, cue_prob, tweet_prob)

    @staticmethod
    def sentiment_spanish(text: str) -> tuple[float, str, float, list[str]]:
        score, words = lexicon.spanish_polarity(text)
        if score >= SPANISH_NEUTRAL_BAND:
            label = "positive"
        elif score <= -SPANISH_NEUTRAL_BAND:
            label = "negative"
        else:
            label = "neutral"
        # A lexicon vote is weak evidence; confidence stays modest on purpose.
        confidence = 0.5 + 0.4 * abs(score) if words else 0.5
        return score, label, confidence, words

    def calibrated(self, prob: np.ndarray) -> np.ndarray:
        """Map each cue's tuned decision threshold to 0.5, so 'present' means ≥ 0.5 for all."""
        t = self.model.cue_threshold
        low = 0.5 * prob / t
        high = 0.5 + 0.5 * (prob - t) / (1.0 - t)
        return np.where(prob < t, low, high)

    def model_evidence(self, j: int, feats: list[str], buckets: list[int]) -> list[str]:
        col = self.model.weights[buckets, 1 + j]
        order = np.argsort(-col)
        out: list[str] = []
        for i in order:
            if col[i] <= 0 or len(out) >= EVIDENCE_FROM_MODEL:
                break
            word = feats[i].removeprefix("n:").removeprefix("<s> ")
            if word not in out:
                out.append(word)
        return out

    def analyse(self, text: str) -> dict:
        """All signals for ``text`` as a JSON-serialisable dict (see docs/signals.md)."""
        lang = language.detect(text)
        if not text.strip():
            return _empty(lang)
        text_score, cue_prob, tweet_prob, feats, buckets = self.text_scores(text)
        evidence: dict[str, list[str]] = {}
        if lang == "es":
            sentiment, label, confidence, words = self.sentiment_spanish(text)
            if words:
                evidence["sentiment"] = words
        else:
            sentiment, label, confidence = self.sentiment_english(
                text, text_score, cue_prob, tweet_prob
            )
        rules = lexicon.match(text)
        model_cues = self.calibrated(cue_prob)
        emotions: dict[str, float] = {}
        for j, cue in enumerate(CUES):
            lex_score, phrases = rules.get(cue, (0.0, []))
            score = max(float(model_cues[j]), lex_score)
            emotions[cue] = round(score, 4)
            if phrases:
                evidence[cue] = phrases
            elif score >= 0.5:
                evidence[cue] = self.model_evidence(j, feats, buckets)
        urgency, urgent_phrases = rules.get("urgency", (0.0, []))
        churn, churn_phrases = rules.get("churn_intent", (0.0, []))
        if urgent_phrases:
            evidence["urgency"] = urgent_phrases
        if churn_phrases:
            evidence["churn_intent"] = churn_phrases
        return {
            "language": lang,
            "sentiment": round(sentiment, 4),
            "label": label,
            "confidence": round(confidence, 4),
            "emotions": emotions,
            "urgency": round(urgency, 4),
            "churn_intent": round(churn, 4),
            "evidence": evidence,
        }


def _softmax(z: np.ndarray) -> np.ndarray:
    p = np.exp(z - z.max())
    return p / p.sum()


def _empty(lang: str) -> dict:
    """Nothing to read: neutral, no cues (the stacker's prior would otherwise say negative)."""
    return {
        "language": lang,
        "sentiment": 0.0,
        "label": "neutral",
        "confidence": 1.0,
        "emotions": dict.fromkeys(CUES, 0.0),
        "urgency": 0.0,
        "churn_intent": 0.0,
        "evidence": {},
    }


_shared: Analyser | None = None
_lock = threading.Lock()


def get() -> Analyser:
    """The process-wide analyser (models load on first use, not at import)."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = Analyser()
    return _shared


def analyse(text: str) -> dict:
    return get().analyse(text)
