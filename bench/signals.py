"""Accuracy and throughput of the empathy signals, VADER beside them, in one run.

Run: ``.venv/bin/python bench/signals.py`` (reads ``WARMLINE_DATASETS``, default
``../shared/datasets``; writes ``bench/results/signals.json``).

Leakage control: the shipped sentiment recipe trains its text model on the VADER ground
truths and its stacker on TweetEval validation, so the figures reported for those sets are
out-of-fold (5 folds, fixed seed): every text is scored by models that never saw it.
GoEmotions dev is never trained on; the shipped cue models are scored on it directly.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scipy.stats import pearsonr  # noqa: E402
from sklearn.metrics import f1_score, recall_score  # noqa: E402

from warmline.empathy import analyser, datasets, features, language, semantic, train  # noqa: E402
from warmline.empathy.lexicon import CUES  # noqa: E402
from warmline.empathy.services import prepare_inbound  # noqa: E402

FOLDS = 5
VADER_THRESHOLD = 0.05  # the standard compound cut-offs for VADER's 3 classes
THROUGHPUT_MESSAGES = 4000
REPEATS = 3
SEMANTIC_THROUGHPUT_MESSAGES = 300  # one message at a time, as ingest would call it


def vader_labels(compound: np.ndarray) -> np.ndarray:
    return np.where(compound >= VADER_THRESHOLD, 2, np.where(compound <= -VADER_THRESHOLD, 0, 1))


def spanish_override(texts, score: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Apply the analyser's routing: texts detected as Spanish use the Spanish lexicon."""
    a = analyser.Analyser
    for i, t in enumerate(texts):
        if language.detect(t) == "es":
            s, label, _, _ = a.sentiment_spanish(t)
            score[i] = s
            if labels is not None:
                labels[i] = analyser.LABELS.index(label)


def shipped_cue_probs(x) -> np.ndarray:
    """Care-cue probabilities from the shipped cue columns (trained on GoEmotions train only,
    which shares no text with TweetEval or the rated ground truths)."""
    m = analyser.get().model
    return train.cue_probs(m.weights[:, 1 : 1 + len(CUES)], m.cue_intercept, x)


def shipped_polarity_probs(x) -> np.ndarray:
    """The shipped polarity classifier (GoEmotions train only, like the cues)."""
    m = analyser.get().model
    n = 1 + len(CUES) + 3
    return train.Softmax(m.weights[:, n : n + 3], m.polarity_intercept).predict_proba(x)


def sentiment_figures(root: Path, log) -> dict:
    rng = np.random.default_rng(train.SEED)
    tw_texts, tw_labels = datasets.tweeteval_val(root)
    tw_y = np.array(tw_labels)
    tw_vader = train.vader_features(tw_texts)
    gt = {n: datasets.ground_truth(root, n) for n in datasets.GROUND_TRUTHS}
    gt_folds = {n: rng.permutation(len(rows)) % FOLDS for n, rows in gt.items()}
    tw_folds = rng.permutation(len(tw_texts)) % FOLDS

    # TweetEval: the text model never sees TweetEval; the tweet classifier and the stacker
    # are fitted without the held fold, and the stacker's tweet-classifier inputs are
    # themselves out-of-fold inside the training folds (nested), as in train.train().
    log("text model on all ground truths + GoEmotions train")
    texts, targets = train.sentiment_corpus(root)
    full_text = train.fit_text_regressor(texts, targets)
    tw_m = features.matrix(tw_texts)
    tw_text = full_text.predict(tw_m)
    tw_cues = shipped_cue_probs(tw_m)
    tw_pol = shipped_polarity_probs(tw_m)
    oof_labels = np.zeros(len(tw_texts), dtype=int)
    sem = semantic.available()
    if sem:
        log("MiniLM embeddings of the tweets (semantic analyser)")
        encoder = semantic.Encoder()
        tw_emb = encoder.encode(tw_texts)
        sem_labels = np.zeros(len(tw_texts), dtype=int)
    for k in range(FOLDS):
        log(f"TweetEval fold {k + 1}/{FOLDS}")
        held = tw_folds == k
        tr = ~held
        inner = train.tweet_probs_oof(tw_m[tr], tw_y[tr], tw_folds[tr])
        outer = train.fit_tweet_classifier(tw_m[tr], tw_y[tr]).predict_proba(tw_m[held])
        x_tr = train.stack_features(tw_text[tr], tw_vader[tr], tw_cues[tr], inner, tw_pol[tr])
        stacker = train.fit_stacker(x_tr, tw_y[tr])
        x_held = train.stack_features(
            tw_text[held], tw_vader[held], tw_cues[held], outer, tw_pol[held]
        )
        oof_labels[held] = stacker.predict(x_held)
        if sem:
            sem_stacker = train.fit_stacker(np.column_stack([x_tr, tw_emb[tr]]), tw_y[tr])
            sem_labels[held] = sem_stacker.predict(np.column_stack([x_held, tw_emb[held]]))
    spanish_override(tw_texts, np.zeros(len(tw_texts)), oof_labels)
    if sem:
        spanish_override(tw_texts, np.zeros(len(tw_texts)), sem_labels)
    ours_recall = recall_score(tw_y, oof_labels, average="macro")
    vader_recall = recall_score(tw_y, vader_labels(tw_vader[:, 0]), average="macro")

    # Ground truths: the text model is refitted without each fold; the tweet classifier and
    # the stacker (fitted on TweetEval only, which shares no text with these sets) are the
    # shipped recipe's.
    tweet_model = train.fit_tweet_classifier(tw_m, tw_y)
    tw_x = train.stack_features(
        tw_text,
        tw_vader,
        tw_cues,
        train.tweet_probs_oof(tw_m, tw_y, train.stack_folds(len(tw_y))),
        tw_pol,
    )
    stacker = train.fit_stacker(tw_x, tw_y)
    if sem:
        sem_stacker = train.fit_stacker(np.column_stack([tw_x, tw_emb]), tw_y)
    signs = np.array([{0: -1.0, 1: 0.0, 2: 1.0}[c] for c in stacker.classes_])
    gt_vader = {n: train.vader_features([r.text for r in rows]) for n, rows in gt.items()}
    gt_m = {n: features.matrix([r.text for r in rows]) for n, rows in gt.items()}
    gt_text = {n: np.zeros(len(rows)) for n, rows in gt.items()}
    for k in range(FOLDS):
        log(f"ground-truth fold {k + 1}/{FOLDS}")
        texts, targets = train.sentiment_corpus(root, exclude=lambda n, i, k=k: gt_folds[n][i] == k)
        model = train.fit_text_regressor(texts, targets)
        for n in gt:
            held = gt_folds[n] == k
            gt_text[n][held] = model.predict(gt_m[n])[held]
    out: dict = {
        "tweeteval_val_macro_recall": round(float(ours_recall), 4),
        "vader_tweeteval_val_macro_recall": round(float(vader_recall), 4),
        "pearson_r": {},
        "vader_pearson_r": {},
    }
    if sem:
        out["semantic"] = {
            "tweeteval_val_macro_recall": round(
                float(recall_score(tw_y, sem_labels, average="macro")), 4
            ),
            "pearson_r": {},
        }
    for n, rows in gt.items():
        ratings = np.array([r.rating for r in rows])
        x = train.stack_features(
            gt_text[n],
            gt_vader[n],
            shipped_cue_probs(gt_m[n]),
            tweet_model.predict_proba(gt_m[n]),
            shipped_polarity_probs(gt_m[n]),
        )
        score = stacker.predict_proba(x) @ signs
        if sem:
            log(f"MiniLM embeddings of the {n} ground truth")
            emb = encoder.encode([r.text for r in rows])
            sem_score = sem_stacker.predict_proba(np.column_stack([x, emb])) @ signs
            spanish_override([r.text for r in rows], sem_score)
            out["semantic"]["pearson_r"][n] = round(float(pearsonr(sem_score, ratings)[0]), 4)
        spanish_override([r.text for r in rows], score)
        out["pearson_r"][n] = round(float(pearsonr(score, ratings)[0]), 4)
        out["vader_pearson_r"][n] = round(float(pearsonr(gt_vader[n][:, 0], ratings)[0]), 4)
    out["mean_pearson_r"] = round(float(np.mean(list(out["pearson_r"].values()))), 4)
    if sem:
        sr = out["semantic"]["pearson_r"]
        out["semantic"]["mean_pearson_r"] = round(float(np.mean(list(sr.values()))), 4)
    out["vader_mean_pearson_r"] = round(float(np.mean(list(out["vader_pearson_r"].values()))), 4)
    return out


def care_cue_figures(root: Path) -> dict:
    rows = datasets.goemotions(root, "dev")
    y = train.cue_targets([names for _, names in rows])
    a = analyser.get()
    pred = np.zeros_like(y)
    for i, (text, _) in enumerate(rows):
        emotions = a.analyse(text)["emotions"]
        pred[i] = [emotions[c] >= 0.5 for c in CUES]
    per_cue = {c: round(float(f1_score(y[:, j], pred[:, j])), 4) for j, c in enumerate(CUES)}
    return {
        "goemotions_care_macro_f1": round(float(np.mean(list(per_cue.values()))), 4),
        "goemotions_care_f1": per_cue,
        "goemotions_care_map": {c: list(v) for c, v in train.CARE_CUE_MAP.items()},
    }


def _median_rate(texts: list[str], fn) -> tuple[float, float]:
    """(messages per CPU-second, messages per wall-second), medians of REPEATS passes.

    Per core means per second of one core's time: the process is pinned to one core and
    charged its own CPU time, so other work sharing the machine does not count against it
    (the wall-clock rate is reported beside it)."""
    cpu, wall = [], []
    for _ in range(REPEATS):
        c0, w0 = time.process_time(), time.perf_counter()
        for t in texts:
            fn(t)
        cpu.append(len(texts) / (time.process_time() - c0))
        wall.append(len(texts) / (time.perf_counter() - w0))
    return float(np.median(cpu)), float(np.median(wall))


def throughput(root: Path) -> dict:
    pinned = False
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        pinned = True
    texts = datasets.tweeteval_val(root)[0]
    texts += [t for t, _ in datasets.goemotions(root, "dev")]
    texts = texts[:THROUGHPUT_MESSAGES]
    a = analyser.get()
    for t in texts[:200]:  # load models and warm caches outside the timing
        a.analyse(t)
    analyse_cpu, analyse_wall = _median_rate(texts, a.analyse)
    prepare_cpu, _ = _median_rate(texts, lambda t: prepare_inbound(text=t))
    out = {
        "msgs_per_s_per_core": round(analyse_cpu),
        "msgs_per_s_wall_clock": round(analyse_wall),
        "prepare_inbound_msgs_per_s_per_core": round(prepare_cpu),
        "throughput_messages": len(texts),
        "throughput_passes": REPEATS,
        "throughput_clock": "process CPU time on one pinned core (wall clock beside it)",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "pinned_to_one_core": pinned,
    }
    if semantic.available():
        sa = semantic.SemanticAnalyser(base=a)
        few = texts[:SEMANTIC_THROUGHPUT_MESSAGES]
        for t in few[:20]:
            sa.analyse(t)
        sem_cpu, sem_wall = _median_rate(few, sa.analyse)
        out["semantic_msgs_per_s_per_core"] = round(sem_cpu)
        out["semantic_msgs_per_s_wall_clock"] = round(sem_wall)
        out["semantic_throughput_messages"] = len(few)
    return out


def main() -> dict:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # see train.train: extra threads only spin here
        return _main()


def _main() -> dict:
    root = datasets.default_datasets_dir()
    if not root.is_dir():
        sys.exit(f"datasets folder not found: {root} (set WARMLINE_DATASETS)")
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    started = time.perf_counter()
    result: dict = {
        "command": ".venv/bin/python bench/signals.py",
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "datasets": str(root),
        "method": "TweetEval and ground-truth figures are 5-fold out-of-fold (seeded; TweetEval "
        "nested: the tweet classifier feeding the stacker is out-of-fold inside each training "
        "part); "
        "GoEmotions dev is evaluation only; VADER 3-class uses compound >= 0.05 / <= -0.05",
    }
    result.update(sentiment_figures(root, log))
    result.update(care_cue_figures(root))
    model_file = analyser.MODELS_DIR / train.MODEL_FILE
    result["model_bytes"] = model_file.stat().st_size
    result.update(throughput(root))
    if "semantic" in result:
        result["semantic"]["goemotions_care_macro_f1"] = result["goemotions_care_macro_f1"]
        result["semantic"]["note"] = (
            "the semantic analyser changes English sentiment only; care cues are the default "
            "models' (same GoEmotions figure)"
        )
        for key in ("semantic_msgs_per_s_per_core", "semantic_msgs_per_s_wall_clock"):
            result["semantic"][key.removeprefix("semantic_")] = result.pop(key)
        result.pop("semantic_throughput_messages", None)
    else:
        result["semantic"] = "not installed (pip install warmline[semantic])"
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    out = ROOT / "bench" / "results" / "signals.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
