"""Text to hashed sparse features, shared by training and inference.

Training and scoring must tokenise identically, so both go through here. Features are
hashed (crc32, stable across processes, unlike ``hash()``) so the shipped model needs no
vocabulary file; values are binary and L2-normalised, which suits linear models.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

import numpy as np

N_BUCKETS = 1 << 18

_TOKEN_RE = re.compile(
    r"[a-z0-9\u00e0-\u00ff]+(?:'[a-z]+)?|[!?]+|:\)|:\(|:d\b|<3|[\U0001F300-\U0001FAFF\u2600-\u27bf]"
)
_URL_RE = re.compile(r"https?://\S+|www\.\S+")
_USER_RE = re.compile(r"@\w+")
_NEGATORS = frozenset(
    "not no never nothing nobody none nor cannot can't don't doesn't didn't isn't wasn't "
    "aren't weren't won't wouldn't shouldn't couldn't haven't hasn't hadn't ain't dont "
    "doesnt didnt isnt wasnt cant wont without".split()
)
_SCOPE_END = frozenset("but however although though . , ; ! ?".split())
_REPEAT_RE = re.compile(r"(.)\1{2,}")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; URLs and @handles become placeholders, 'sooo' becomes 'soo'."""
    t = text.lower()
    t = _URL_RE.sub(" xurl ", t)
    t = _USER_RE.sub(" xuser ", t)
    t = _REPEAT_RE.sub(r"\1\1", t)
    return _TOKEN_RE.findall(t)


def feature_strings(toks: list[str]) -> list[str]:
    """Unigrams, negation-scoped unigrams and bigrams: the model's vocabulary, unhashed."""
    out: list[str] = []
    negated = False
    prev = "<s>"
    for tok in toks:
        if tok in _SCOPE_END or tok[0] in "!?":
            negated = False
        out.append("n:" + tok if negated else tok)
        out.append(prev + " " + tok)
        if tok in _NEGATORS:
            negated = True
        prev = tok
    return out


def bucket(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) & (N_BUCKETS - 1)


def indices(text: str) -> np.ndarray:
    """Unique bucket ids for one text (the non-zero columns of its feature row)."""
    return np.fromiter({bucket(f) for f in feature_strings(tokens(text))}, dtype=np.int64)


def matrix(texts: Iterable[str]):
    """A CSR matrix of L2-normalised binary features, for training."""
    from scipy.sparse import csr_matrix

    indptr = [0]
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for text in texts:
        idx = indices(text)
        cols.append(idx)
        vals.append(np.full(len(idx), 1.0 / np.sqrt(max(len(idx), 1)), dtype=np.float32))
        indptr.append(indptr[-1] + len(idx))
    return csr_matrix(
        (
            np.concatenate(vals) if vals else np.zeros(0, np.float32),
            np.concatenate(cols) if cols else np.zeros(0, np.int64),
            np.array(indptr),
        ),
        shape=(len(indptr) - 1, N_BUCKETS),
    )
