"""Compare representations for the local rise test in seconds, on the tuning streams only.

    .venv/bin/python bench/trends_offline.py                       # all variants, seeds 100 200
    .venv/bin/python bench/trends_offline.py --variants shipped word --seeds 100
    .venv/bin/python bench/trends_offline.py --wide --seeds 300 --variants shipped minilm oracle
    .venv/bin/python bench/trends_offline.py --floor               # the oracle, also on reported

A full replay (``bench/trends_tune.py``) takes minutes per setting because it also
clusters; this asks one narrower question quickly: with a given similarity between
messages, how early would the local test (:func:`warmline.proactive.trends.local_rise`,
product defaults, density correction included) fire on a burst, at the same false-alarm
rate? For every message after the warm-up it computes the local test's p-value; the level
is then set so that background messages below it number 0.5 / 0.8 / 1.0 / 1.5 per 10k,
and the delay is the first burst message below it. It leaves out the radius tests and
trend joining, so its figures sit near, not on, the replay's (the shipped encoder: median
4.0 at 0.8 per 10k here, 4.0 / 0.69 in the replay).

Variants (why each was a candidate):

* ``shipped``: the shipped encoder's cosine (the product; ``--encoder FILE``: a candidate's).
* ``word`` / ``char``: TF-IDF cosine, words + bigrams or character 3–5-grams, with
  inverse document frequencies from the workspace's own history before the burst; a new
  issue's words are rare in that history.
* ``shipped+word`` / ``shipped+char``: half and half.
* ``whiten``: the shipped vectors whitened by the warm-up week's covariance (shrinkage
  1 × the mean eigenvalue), so directions the background fills count less.
* ``top3``: the warm-up week's mean and three leading directions removed ("all but the
  top").
* ``minilm``: MiniLM's cosine (the optional ``semantic`` extra; not a product default),
  the reference the shipped encoder was distilled from.
* ``oracle``: no encoder at all — each message's gold intent as a one-hot vector plus
  isotropic noise of the same norm (same-intent cosine about 0.5, other intents about 0).
  It is the floor of the test itself: how early it can fire when the representation
  separates every intent, so the rest of a delay is the representation's.

``--wide`` uses every held-out intent that is not reported (32, the six tuning ones
among them) instead of the six: the shipped encoder is at the oracle's floor on those
six, so they cannot show a representation or setting that would help on harder intents.
Stored under ``offline_representations_wide``.

Results are printed as JSON lines and stored under ``offline_representations`` in
``bench/results/trends.json``. Never run on the reported intents, except ``--floor``:
the oracle alone, on the tuning and the reported streams, stored under ``test_floor``.
It has no setting to choose, so running it on the reported streams tunes nothing; it
tells how much of their delay is the representation's.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from trends_stream import banking77, generate  # noqa: E402

from bench._common import merge_result  # noqa: E402
from warmline.proactive import topics  # noqa: E402
from warmline.proactive.train_topics import banking77_split, held_out_roles  # noqa: E402
from warmline.proactive.trends import TrendConfig, local_density, local_rise  # noqa: E402

VARIANTS = (
    "shipped",
    "word",
    "char",
    "shipped+word",
    "shipped+char",
    "whiten",
    "top3",
    "minilm",
    "oracle",
)
RATES = (0.5, 0.8, 1.0, 1.5)  # false alarms per 10k background messages
BLOCK = 500


def _lexical(texts: list[str], history: int, kind: str) -> sparse.csr_matrix:
    """Binary TF-IDF rows, document frequencies counted on ``texts[:history]`` only."""
    if kind == "word":
        vec = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", dtype=np.float32)
    else:
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), dtype=np.float32)
    x = (vec.fit_transform(texts) > 0).astype(np.float32)
    df = np.asarray(x[:history].sum(axis=0)).ravel()
    x = x.multiply(np.log((1 + history) / (1 + df)) + 1).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    return sparse.csr_matrix(sparse.diags(1 / np.maximum(norms, 1e-9)) @ x)


def _oracle(intents: list[str], seed: int) -> np.ndarray:
    """Gold intent one-hot plus noise of unit norm, unit length (see ``oracle``)."""
    names = {name: n for n, name in enumerate(sorted(set(intents)))}
    rng = np.random.default_rng(seed)
    m = rng.normal(0, 1 / np.sqrt(128), (len(intents), 128)).astype(np.float32)
    m[np.arange(len(intents)), [names[i] for i in intents]] += 1.0
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@functools.cache
def _minilm():
    """One cached MiniLM encoder for the run (the streams reuse Banking77's texts)."""
    from trends import CachedSemantic

    return CachedSemantic()


def _command() -> str:
    return " ".join(["python", "bench/" + Path(__file__).name, *sys.argv[1:]])


def representation(
    variant: str,
    texts: list[str],
    dense: np.ndarray,
    history: int,
    warm: int,
    intents: list[str],
    seed: int,
) -> np.ndarray | sparse.csr_matrix:
    """Rows whose dot products are the variant's similarities."""
    if variant == "shipped":
        return dense
    if variant == "oracle":
        return _oracle(intents, seed)
    if variant == "minilm":
        return _minilm().encode(texts).astype(np.float32)
    if variant in ("word", "char"):
        return _lexical(texts, history, variant)
    if variant.startswith("shipped+"):
        lex = _lexical(texts, history, variant.split("+")[1])
        return sparse.hstack([sparse.csr_matrix(dense) * np.sqrt(0.5), lex * np.sqrt(0.5)]).tocsr()
    mean = dense[:warm].mean(axis=0)
    centred = dense - mean
    if variant == "whiten":
        values, vectors = np.linalg.eigh(np.cov((dense[:warm] - mean).T))
        z = centred @ (vectors @ np.diag(1 / np.sqrt(values + values.mean())) @ vectors.T)
    elif variant == "top3":
        _, _, vt = np.linalg.svd(dense[:warm] - mean, full_matrices=False)
        z = centred - (centred @ vt[:3].T) @ vt[:3]
    else:
        raise SystemExit(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)).astype(np.float32)


def p_values(rows: list[dict], m, config: TrendConfig) -> np.ndarray:
    """The local test's p for every message after the warm-up (1.0 before it or unflaggable)."""
    times = np.array([r["time"] for r in rows])
    customers = [r["customer"] for r in rows]
    horizon = config.baseline_window + max(*config.rise_windows, config.new_topic_window)
    loose = replace(config, local_alpha=1.0)
    density = np.zeros(len(rows), dtype=np.float32)
    out = np.ones(len(rows))
    block, start = None, -1
    for i in range(len(rows)):
        if i // BLOCK != start:  # one block of similarities at a time (sparse or dense)
            start = i // BLOCK
            block = m[start * BLOCK : (start + 1) * BLOCK] @ m.T
            block = np.asarray(block.todense() if sparse.issparse(block) else block, np.float32)
        lo = int(np.searchsorted(times, times[i] - horizon))
        sims = block[i - start * BLOCK, lo:i]
        density[i] = local_density(sims, config.density_k)
        if times[i] - times[0] < config.warmup:
            continue
        found = local_rise(
            scores=sims - config.density_weight * density[lo:i],
            times=times[lo:i],
            customers=customers[lo:i],
            now=times[i],
            customer=customers[i],
            config=loose,
        )
        out[i] = found[0] if found else 1.0
    return out


def stream(intent: str, seed: int, variants: list[str], config: TrendConfig) -> dict:
    rows = generate(banking77(), held_out=intent, seed=seed)
    for r in rows:
        r["time"] = datetime.fromisoformat(r["time"]).timestamp()
    texts = [r["text"] for r in rows]
    intents = [r["intent"] for r in rows]
    needs_encoder = any(v not in ("oracle", "minilm") for v in variants)
    dense = topics.default_encoder().encode(texts) if needs_encoder else None
    history = next(i for i, r in enumerate(rows) if r["burst"])
    warm = sum(1 for r in rows if r["time"] - rows[0]["time"] < config.warmup)
    burst = [i for i, r in enumerate(rows) if r["burst"]]
    background = [i for i, r in enumerate(rows) if not r["burst"] and i >= warm]
    found = {}
    for variant in variants:
        m = representation(variant, texts, dense, history, warm, intents, seed)
        p = p_values(rows, m, config)
        found[variant] = {"burst": p[burst].tolist(), "background": p[background].tolist()}
    return found


def summarise(streams: list[dict], variant: str) -> dict:
    background = np.sort(np.concatenate([s[variant]["background"] for s in streams]))
    result = {"variant": variant, "background_messages": len(background)}
    for rate in RATES:
        allowed = int(rate * len(background) / 10_000)
        level = float(background[allowed]) if allowed < len(background) else 1.0
        delays = [
            next((n + 1 for n, p in enumerate(s[variant]["burst"]) if p < level), None)
            for s in streams
        ]
        full = [
            d if d is not None else len(s[variant]["burst"])
            for d, s in zip(delays, streams, strict=True)
        ]
        result[f"at_{rate}_per_10k"] = {
            "level": level,
            "median_delay": statistics.median(full),
            "delays": delays,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seeds", type=int, nargs="*", default=[100, 200])
    parser.add_argument(
        "--encoder", type=Path, help="a candidate encoder file instead of the shipped one"
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help="every held-out intent that is not reported (32) instead of the six tuning ones",
    )
    parser.add_argument(
        "--density-weight",
        type=float,
        help="the local test's density_weight instead of the product default (a scan)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="the oracle alone on the tuning and the reported streams (stored as test_floor)",
    )
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.encoder:
        topics._default_encoder = topics.TopicEncoder.load(args.encoder)
    _, held_out = banking77_split(banking77())
    tune, report = held_out_roles(held_out)
    if args.wide:
        tune = sorted(set(held_out) - set(report))
    config = TrendConfig()
    if args.density_weight is not None:
        config = replace(config, density_weight=args.density_weight)
    began = time.time()
    if args.floor:
        return floor(tune, report, args.seeds, config, began, args.no_save)
    streams = [
        stream(intent, first + n, args.variants, config)
        for first in args.seeds
        for n, intent in enumerate(tune)
    ]
    results = [summarise(streams, v) for v in args.variants]
    if args.no_save:
        for r in results:
            print(json.dumps(r), flush=True)
    else:
        merge_result(
            "trends",
            "offline_representations_wide" if args.wide else "offline_representations",
            {
                "command": _command(),
                "streams": [[i, first + n] for first in args.seeds for n, i in enumerate(tune)],
                "seconds": round(time.time() - began, 1),
                "representations": results,
            },
        )
    return 0


def floor(
    tune: list[str],
    report: list[str],
    seeds: list[int],
    config: TrendConfig,
    began: float,
    no_save: bool,
) -> int:
    """The oracle on the tuning streams and on the reported ones (bench/trends.py's seeds)."""
    cases = {
        "tuning": [(i, first + n) for first in seeds for n, i in enumerate(tune)],
        "reported": [(i, first + n) for first in (1, 7) for n, i in enumerate(report)],
    }
    found = {}
    for name, streams in cases.items():
        summary = summarise([stream(i, s, ["oracle"], config) for i, s in streams], "oracle")
        found[name] = {"streams": streams, **summary}
        print(json.dumps({name: summary}), flush=True)
    if not no_save:
        merge_result(
            "trends",
            "test_floor",
            {
                "command": _command(),
                "seconds": round(time.time() - began, 1),
                **found,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
