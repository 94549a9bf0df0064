"""Tune the trend detector on the *tuning* intents only (never the reported ones).

    .venv/bin/python bench/trends_tune.py --local-alpha 1e-3 3e-3 1e-2 --density-weight 0.5 1

Prints, per setting, the median detection delay and false alarms per 10k background
messages over the tuning intents of the Banking77 held-out half (see
``warmline.proactive.train_topics.held_out_roles``). The chosen setting becomes the
product default in ``topics.py`` / ``trends.py``; ``bench/trends.py`` then reports it
on the disjoint evaluation intents.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from trends import emergence  # noqa: E402
from trends_stream import banking77  # noqa: E402

from warmline.proactive.train_topics import banking77_split, held_out_roles  # noqa: E402
from warmline.proactive.trends import TrendConfig  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, nargs="*", default=[None])
    parser.add_argument("--quantile", type=float, nargs="*", default=[None])
    parser.add_argument("--alpha", type=float, nargs="*", default=[None])
    parser.add_argument("--similarity", type=float, nargs="*", default=[None])
    parser.add_argument("--novelty", type=float, default=None, help="novelty_similarity")
    parser.add_argument("--local-alpha", type=float, nargs="*", default=[None])
    parser.add_argument("--density-weight", type=float, nargs="*", default=[None])
    parser.add_argument("--density-k", type=int, default=None)
    parser.add_argument(
        "--beside-alpha",
        type=float,
        default=None,
        help="rise_alpha_beside_local (0: no radius rise test beside the local one)",
    )
    parser.add_argument("--follow", type=float, default=None, help="follow_similarity")
    parser.add_argument("--windows", type=float, nargs="*", default=None, help="hours")
    parser.add_argument("--ks", type=int, nargs="*", default=None, help="local_ks")
    parser.add_argument("--semantic", action="store_true", help="detector on MiniLM vectors")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=[100],
        help="first seed of each round over the tuning intents (100: seeds 100-105)",
    )
    args = parser.parse_args(argv)
    texts = banking77()
    _, held_out = banking77_split(texts)
    tune, _ = held_out_roles(held_out)
    cases = [(intent, first + n) for first in args.seeds for n, intent in enumerate(tune)]
    grid = itertools.product(
        args.threshold,
        args.quantile,
        args.alpha,
        args.similarity,
        args.local_alpha,
        args.density_weight,
    )
    detect_encoder = None
    if args.semantic:
        from trends import CachedSemantic

        detect_encoder = CachedSemantic()
    for threshold, quantile, alpha, similarity, local_alpha, density_weight in grid:
        config = TrendConfig()
        if local_alpha is not None:
            config = replace(config, local_alpha=local_alpha)
        if density_weight is not None:
            config = replace(config, density_weight=density_weight)
        if args.density_k is not None:
            config = replace(config, density_k=args.density_k)
        if args.beside_alpha is not None:
            config = replace(config, rise_alpha_beside_local=args.beside_alpha or None)
        if args.follow is not None:
            config = replace(config, follow_similarity=args.follow)
        if args.windows:
            config = replace(config, rise_windows=tuple(h * 3600 for h in args.windows))
        if args.ks:
            config = replace(config, local_ks=tuple(args.ks))
        if alpha is not None:
            config = replace(config, rise_alpha=alpha)
        if similarity is not None:
            config = replace(config, neighbour_similarity=similarity)
        if args.novelty is not None:
            config = replace(config, novelty_similarity=args.novelty)
        store_kw = {}
        if threshold is not None:
            store_kw["threshold"] = threshold
        if quantile is not None:
            store_kw["outlier_quantile"] = quantile
        result = emergence(
            texts, cases=cases, config=config, store_kw=store_kw, detect_encoder=detect_encoder
        )
        result["setting"] = {
            "threshold": threshold,
            "quantile": quantile,
            "alpha": alpha,
            "similarity": similarity,
            "novelty": args.novelty,
            "local_alpha": local_alpha,
            "density_weight": density_weight,
            "density_k": args.density_k,
            "beside_alpha": args.beside_alpha,
            "follow": args.follow,
            "windows": args.windows,
            "ks": args.ks,
            "semantic": args.semantic,
        }
        result["runs"] = [
            (r["held_out"], r["burst_messages"], r["delay"], r["false_alarms"])
            for r in result["runs"]
        ]
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
