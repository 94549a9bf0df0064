"""Topics: what customers write about, found without labels and kept up to date online.

A message becomes an L2-normalised vector (word + character n-gram TF-IDF projected
by a fixed basis, see :class:`TopicEncoder`: an SVD followed by a linear
discriminant projection learnt from *other* labelled intent data, so that
messages with the same intent land close together); an online leader clustering
puts it in the nearest topic when it is close enough and opens a new topic
otherwise, so a new kind of problem gets its own topic from its first message.
A periodic full re-clustering (:meth:`TopicStore.recluster`) runs k-means over
everything (an unsupervised basis is refitted on the workspace's own text first), because leader clustering depends on
arrival order and drifts. Everything here is in memory and free of the database:
the Django layer persists what it needs.
"""

from __future__ import annotations

import bisect
import json
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

MODEL_DIR = Path(__file__).resolve().parent / "topic_models"
DEFAULT_MODEL = MODEL_DIR / "topic_encoder.npz"

# Product defaults (the replay command and the app use these unless a workspace overrides).
ASSIGN_THRESHOLD = 0.55  # cosine similarity needed to join an existing topic
ENCODER_DIMS = 96  # unsupervised (LSA) encoders
SVD_DIMS = 300  # supervised encoders: LSA first, then the discriminant projection
LDA_DIMS = 128
LDA_SHRINKAGE = 0.1
# Distilled encoders (the shipped one): a ridge map from a wide SVD basis to MiniLM's
# vectors, reduced to DISTIL_DIMS output directions (see TopicEncoder.fit_distilled).
DISTIL_SVD_DIMS = 2400
DISTIL_DIMS = 128
DISTIL_RIDGE = 0.1
CHAR_WEIGHT = 1.0  # character n-grams carry typos and word variants ("card", "cards")
WORD_MAX_FEATURES = 12_000
CHAR_MAX_FEATURES = 12_000
OUTLIER_QUANTILE = (
    0.02  # after re-clustering, a message opens a topic if farther than 98% of members
)
MIN_TOPIC_SIZE = 5  # topics smaller than this do not count when choosing k for re-clustering
LABEL_TERMS = 3
REPRESENTATIVES = 5

_TOKEN = re.compile(r"(?u)\b[a-zA-Z][a-zA-Z']+\b")
_STOP = frozenset(ENGLISH_STOP_WORDS) | {"i'm", "im", "don't", "can't", "i've", "it's", "didn't"}


def label_tokens(text: str) -> list[str]:
    """Words that may name a topic: lower-cased, no stop words, no numbers."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP and len(t) > 2]


def _word_vectorizer(**kw) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32, **kw)


def _char_vectorizer(**kw) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32, **kw
    )


def _fit_basis(
    texts: Sequence[str], svd_dims: int, seed: int
) -> tuple[TfidfVectorizer, TfidfVectorizer, TruncatedSVD, np.ndarray]:
    """Word + character TF-IDF fitted on ``texts`` and a wide SVD basis of it, the front
    end the learnt encoders share; returns the training texts' SVD coordinates too."""
    min_df = 2 if len(texts) >= 200 else 1
    word = _word_vectorizer(min_df=min_df, max_features=WORD_MAX_FEATURES)
    char = _char_vectorizer(min_df=min_df, max_features=CHAR_MAX_FEATURES)
    x = sparse.hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    svd_dims = max(2, min(svd_dims, x.shape[1] - 1, len(texts) - 1))
    svd = TruncatedSVD(svd_dims, algorithm="randomized", n_iter=4, random_state=seed)
    return word, char, svd, svd.fit_transform(x)


@dataclass
class TopicEncoder:
    """Text → unit vector. Fitted offline and shipped as a small ``.npz`` (no model hub)."""

    word: TfidfVectorizer
    char: TfidfVectorizer
    components: np.ndarray  # (dims, n_word + n_char) projection basis
    char_weight: float = CHAR_WEIGHT
    trained_on: str = ""
    supervised: bool = False  # a learnt basis is kept by re-clustering (never refitted)

    @classmethod
    def fit_supervised(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        svd_dims: int = SVD_DIMS,
        dims: int = LDA_DIMS,
        shrinkage: float = LDA_SHRINKAGE,
        seed: int = 0,
        trained_on: str = "",
    ) -> TopicEncoder:
        """TF-IDF → SVD → linear discriminant projection fitted on labelled intents.

        The discriminant directions separate intents and shrink within-intent
        wording differences; they transfer to intents the model never saw because
        "what is asked about" (card, transfer, refund, arrive, charge) is what
        separates intents everywhere. One matrix product at inference time.
        """
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        word, char, svd, z = _fit_basis(texts, svd_dims, seed)
        lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage).fit(z, labels)
        scalings = lda.scalings_[:, : min(dims, lda.scalings_.shape[1])]
        components = (svd.components_.T @ scalings).T.astype(np.float32)
        return cls(word, char, components, 1.0, trained_on, supervised=True)

    @classmethod
    def fit_distilled(
        cls,
        texts: Sequence[str],
        targets: np.ndarray,
        *,
        svd_dims: int = DISTIL_SVD_DIMS,
        dims: int = DISTIL_DIMS,
        ridge: float = DISTIL_RIDGE,
        seed: int = 0,
        trained_on: str = "",
    ) -> TopicEncoder:
        """TF-IDF → a linear map fitted to a sentence encoder's vectors (``targets``).

        The teacher (MiniLM, unit vectors, one row per text) places paraphrases of the
        same request close together even when they share few words; a ridge regression
        from a wide SVD basis of the TF-IDF features learns the part of that which
        words and character n-grams can carry (synonyms, related terms). The fitted
        outputs are then reduced to their ``dims`` leading principal directions
        (reduced-rank ridge), and the whole chain collapses into one (dims, features)
        matrix: encoding costs exactly what the discriminant encoder costs.
        """
        word, char, svd, z = _fit_basis(texts, svd_dims, seed)
        y = np.asarray(targets, dtype=np.float64)
        y = y - y.mean(axis=0)  # the teacher's common direction says nothing about intent
        gram = z.T @ z
        gram[np.diag_indices_from(gram)] += ridge
        coef = np.linalg.solve(gram, z.T @ y)  # (svd_dims, teacher dims)
        fitted = z @ coef
        _, _, vt = np.linalg.svd(fitted - fitted.mean(axis=0), full_matrices=False)
        dims = min(dims, vt.shape[0])
        components = (svd.components_.T @ (coef @ vt[:dims].T)).T.astype(np.float32)
        return cls(word, char, components, 1.0, trained_on, supervised=True)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        *,
        dims: int = ENCODER_DIMS,
        char_weight: float = CHAR_WEIGHT,
        word_max_features: int = WORD_MAX_FEATURES,
        char_max_features: int = CHAR_MAX_FEATURES,
        seed: int = 0,
        trained_on: str = "",
    ) -> TopicEncoder:
        return cls.fit_encode(
            texts,
            dims=dims,
            char_weight=char_weight,
            word_max_features=word_max_features,
            char_max_features=char_max_features,
            seed=seed,
            trained_on=trained_on,
        )[0]

    @classmethod
    def fit_encode(
        cls,
        texts: Sequence[str],
        *,
        dims: int = ENCODER_DIMS,
        char_weight: float = CHAR_WEIGHT,
        word_max_features: int = WORD_MAX_FEATURES,
        char_max_features: int = CHAR_MAX_FEATURES,
        seed: int = 0,
        trained_on: str = "",
    ) -> tuple[TopicEncoder, np.ndarray]:
        """Fit and return the training texts' vectors too: re-analysing 100k texts costs seconds."""
        min_df = 2 if len(texts) >= 200 else 1
        word = _word_vectorizer(min_df=min_df, max_features=word_max_features)
        char = _char_vectorizer(min_df=min_df, max_features=char_max_features)
        x = sparse.hstack([word.fit_transform(texts), char.fit_transform(texts) * char_weight])
        dims = max(2, min(dims, x.shape[1] - 1, len(texts) - 1))
        svd = TruncatedSVD(dims, algorithm="randomized", n_iter=4, random_state=seed)
        x = x.tocsr()
        svd.fit(x)
        encoder = cls(word, char, svd.components_.astype(np.float32), char_weight, trained_on)
        z = np.asarray(x @ encoder.components.T, dtype=np.float32)
        return encoder, z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)

    @property
    def dims(self) -> int:
        return self.components.shape[0]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (n, dims); an empty or out-of-vocabulary text maps to the zero vector."""
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        x = sparse.hstack(
            [self.word.transform(texts), self.char.transform(texts) * self.char_weight]
        ).tocsr()
        z = np.asarray(x @ self.components.T, dtype=np.float32)
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        return z / np.maximum(norms, 1e-9)

    def save(self, path: Path) -> None:
        """float16 basis: halves the shipped file, changes cosines by < 1e-3."""
        np.savez_compressed(
            path,
            word_vocab=np.array(sorted(self.word.vocabulary_, key=self.word.vocabulary_.get)),
            word_idf=self.word.idf_.astype(np.float32),
            char_vocab=np.array(sorted(self.char.vocabulary_, key=self.char.vocabulary_.get)),
            char_idf=self.char.idf_.astype(np.float32),
            components=self.components.astype(np.float16),
            meta=np.array(
                json.dumps(
                    {
                        "char_weight": self.char_weight,
                        "trained_on": self.trained_on,
                        "supervised": self.supervised,
                    }
                )
            ),
        )

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> TopicEncoder:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            word = _word_vectorizer(vocabulary={t: i for i, t in enumerate(data["word_vocab"])})
            word.idf_ = data["word_idf"].astype(np.float64)
            char = _char_vectorizer(vocabulary={t: i for i, t in enumerate(data["char_vocab"])})
            char.idf_ = data["char_idf"].astype(np.float64)
            components = data["components"].astype(np.float32)
        return cls(
            word,
            char,
            components,
            meta["char_weight"],
            meta.get("trained_on", ""),
            supervised=bool(meta.get("supervised", False)),
        )


_default_encoder: TopicEncoder | None = None


def default_encoder() -> TopicEncoder:
    """The shipped encoder, loaded once per process."""
    global _default_encoder
    if _default_encoder is None:
        _default_encoder = TopicEncoder.load()
    return _default_encoder


@dataclass
class Topic:
    """A group of messages about the same thing; ``name`` is what a person renamed it to."""

    id: int
    created_at: float  # stream time (epoch seconds) of its first message
    members: list[int] = field(default_factory=list)  # message indexes in the store
    name: str | None = None


class TopicStore:
    """In-memory messages, their vectors and topics; leader clustering plus re-clustering.

    Messages are addressed by their index (arrival order); their external ids,
    customers, times and texts are kept so labels, representatives and trend
    windows can be computed without going back to a database.
    """

    def __init__(
        self,
        encoder: TopicEncoder | None = None,
        *,
        threshold: float = ASSIGN_THRESHOLD,
        outlier_quantile: float = OUTLIER_QUANTILE,
    ) -> None:
        self.encoder = encoder or default_encoder()
        self.threshold = threshold
        self.base_threshold = threshold
        self.outlier_quantile = outlier_quantile
        self.ids: list[Hashable] = []
        self.customers: list[str] = []
        self.times: list[float] = []
        self.texts: list[str] = []
        self.topic_of: list[int] = []
        self.topics: dict[int, Topic] = {}
        self._vectors = np.zeros((1024, self.encoder.dims), dtype=np.float32)
        self._next_topic = 1
        self._reset_centroids()

    # -- storage -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors[: len(self.ids)]

    def _reset_centroids(self) -> None:
        """Dense (capacity, dims) sums and a row→topic map keep assignment one matrix product."""
        self._sums = np.zeros((64, self.encoder.dims), dtype=np.float32)
        self._centroids = np.zeros_like(self._sums)
        self._row_topic: list[int] = []
        self._topic_row: dict[int, int] = {}

    def _append_vector(self, v: np.ndarray) -> int:
        i = len(self.ids)
        if i >= len(self._vectors):
            self._vectors = np.vstack([self._vectors, np.zeros_like(self._vectors)])
        self._vectors[i] = v
        return i

    def _add_row(self, topic_id: int) -> int:
        row = len(self._row_topic)
        if row >= len(self._sums):
            self._sums = np.vstack([self._sums, np.zeros_like(self._sums)])
            self._centroids = np.vstack([self._centroids, np.zeros_like(self._centroids)])
        self._row_topic.append(topic_id)
        self._topic_row[topic_id] = row
        return row

    def _refresh_row(self, row: int) -> None:
        s = self._sums[row]
        n = float(np.linalg.norm(s))
        self._centroids[row] = s / n if n > 0 else 0.0

    def _new_topic(self, created_at: float) -> Topic:
        topic = Topic(id=self._next_topic, created_at=created_at)
        self._next_topic += 1
        self.topics[topic.id] = topic
        self._add_row(topic.id)
        return topic

    def _rebuild_centroids(self) -> None:
        self._reset_centroids()
        vectors = self.vectors
        for topic in self.topics.values():
            row = self._add_row(topic.id)
            self._sums[row] = vectors[topic.members].sum(axis=0)
            self._refresh_row(row)

    # -- online assignment -------------------------------------------------------------
    def add(
        self,
        *,
        id: Hashable,
        customer: str,
        text: str,
        time: float,
        vector: np.ndarray | None = None,
    ) -> int:
        """File one message under the nearest topic (or a new one); returns the topic id."""
        v = self.encoder.encode([text])[0] if vector is None else vector
        index = self._append_vector(v)
        self.ids.append(id)
        self.customers.append(customer)
        self.times.append(time)
        self.texts.append(text)
        k = len(self._row_topic)
        row = -1
        if k and v.any():
            sims = self._centroids[:k] @ v
            best = int(np.argmax(sims))
            if sims[best] >= self.threshold:
                row = best
        if row < 0:
            topic = self._new_topic(time)
            row = self._topic_row[topic.id]
        else:
            topic = self.topics[self._row_topic[row]]
        topic.members.append(index)
        self._sums[row] += v
        self._refresh_row(row)
        self.topic_of.append(topic.id)
        return topic.id

    def add_many(self, records: Iterable[dict]) -> list[int]:
        """Batch encoding (the costly part) then sequential assignment, so order still matters."""
        records = list(records)
        vectors = self.encoder.encode([r["text"] for r in records])
        return [
            self.add(id=r["id"], customer=r["customer"], text=r["text"], time=r["time"], vector=v)
            for r, v in zip(records, vectors, strict=True)
        ]

    # -- reading -----------------------------------------------------------------------
    def centroid(self, topic_id: int) -> np.ndarray:
        return self._centroids[self._topic_row[topic_id]]

    def top_terms(self, topic_id: int, n: int = LABEL_TERMS) -> list[str]:
        """Terms frequent in the topic and rare elsewhere (count × idf over the store)."""
        members = self.topics[topic_id].members
        counts = Counter(t for i in members for t in set(label_tokens(self.texts[i])))
        if not counts:
            return []
        df = self._document_frequencies()
        total = max(len(self.ids), 1)
        scored = sorted(
            counts, key=lambda t: (-counts[t] * np.log((1 + total) / (1 + df.get(t, 0))), t)
        )
        return scored[:n]

    def _document_frequencies(self) -> Counter:
        cache = getattr(self, "_df_cache", None)
        if cache is None or cache[0] != len(self.ids):
            df = Counter(t for text in self.texts for t in set(label_tokens(text)))
            self._df_cache = (len(self.ids), df)
        return self._df_cache[1]

    def label(self, topic_id: int) -> str:
        topic = self.topics[topic_id]
        return topic.name or " / ".join(self.top_terms(topic_id)) or f"topic {topic_id}"

    def representatives(self, topic_id: int, n: int = REPRESENTATIVES) -> list[int]:
        """Member indexes closest to the centroid: the messages a lead reads first."""
        members = self.topics[topic_id].members
        sims = self.vectors[members] @ self.centroid(topic_id)
        order = np.argsort(-sims, kind="stable")[:n]
        return [members[i] for i in order]

    def customers_near(
        self, topic_id: int, start: float, end: float, *, threshold: float | None = None
    ) -> int:
        """Different customers whose messages in [start, end) are as close to the topic's
        centroid as the join threshold: the topic's baseline had it existed back then."""
        lo = bisect.bisect_left(self.times, start)
        hi = bisect.bisect_left(self.times, end)
        if hi <= lo:
            return 0
        sims = self._vectors[lo:hi] @ self.centroid(topic_id)
        limit = self.threshold if threshold is None else threshold
        hits = np.flatnonzero(sims >= limit)
        return len({self.customers[lo + i] for i in hits.tolist()})

    def labels_array(self) -> np.ndarray:
        return np.asarray(self.topic_of)

    # -- edits by agents and leads -----------------------------------------------------
    def rename(self, topic_id: int, name: str) -> None:
        name = name.strip()
        if not name:
            raise ValueError("a topic name cannot be empty")
        self.topics[topic_id].name = name

    def merge(self, keep: int, absorb: int) -> int:
        """Move every message of ``absorb`` into ``keep``; the kept topic keeps its name and age."""
        if keep == absorb:
            raise ValueError("cannot merge a topic into itself")
        a, b = self.topics[keep], self.topics.pop(absorb)
        for i in b.members:
            self.topic_of[i] = keep
        a.members = sorted(a.members + b.members)
        a.created_at = min(a.created_at, b.created_at)
        self._rebuild_centroids()
        return keep

    def split(self, topic_id: int, k: int = 2, *, seed: int = 0) -> list[int]:
        """k-means inside one topic; the largest part keeps the id, the rest get new topics."""
        topic = self.topics[topic_id]
        if len(topic.members) < k:
            raise ValueError(f"topic {topic_id} has fewer than {k} messages")
        members = np.asarray(topic.members)
        parts = KMeans(k, n_init=3, random_state=seed).fit_predict(self.vectors[members])
        sizes = np.bincount(parts, minlength=k)
        order = np.argsort(-sizes, kind="stable")
        result = [topic_id]
        topic.members = sorted(members[parts == order[0]].tolist())
        topic.created_at = min(self.times[i] for i in topic.members)
        for part in order[1:]:
            idx = sorted(members[parts == part].tolist())
            new = Topic(
                id=self._next_topic, created_at=min(self.times[i] for i in idx), members=idx
            )
            self._next_topic += 1
            self.topics[new.id] = new
            for i in idx:
                self.topic_of[i] = new.id
            result.append(new.id)
        self._rebuild_centroids()
        return result

    # -- full re-clustering ------------------------------------------------------------
    def recluster(
        self, *, k: int | None = None, refit: bool = True, seed: int = 0, max_iter: int = 50
    ) -> dict[int, int]:
        """Refit the basis on the store's own text, k-means everything, keep ids stable.

        ``k`` defaults to the number of online topics with at least ``MIN_TOPIC_SIZE``
        messages. Each new cluster inherits the id (and name) of the old topic it
        shares most messages with; returns old id → new id for every old topic that
        survived as the main source of a cluster (the rest were absorbed).
        """
        n = len(self.ids)
        if n < 2:
            return {t: t for t in self.topics}
        if k is None:
            k = sum(1 for t in self.topics.values() if len(t.members) >= MIN_TOPIC_SIZE)
        k = max(1, min(k, n))
        init: str | np.ndarray = "k-means++"
        if refit and n >= 500 and not self.encoder.supervised:
            self.encoder, vectors = TopicEncoder.fit_encode(
                self.texts, dims=self.encoder.dims, seed=seed
            )
            self._vectors = np.vstack([vectors, np.zeros_like(vectors[: max(1024, n // 4)])])
        else:
            # Same basis: start from the k largest online topics' centroids. They are
            # already close to a solution, so k-means needs a few iterations instead of a
            # k-means++ seeding pass over every message (what makes 100k messages slow).
            largest = sorted(self.topics.values(), key=lambda t: (-len(t.members), t.id))[:k]
            if len(largest) == k:
                init = np.stack([self.centroid(t.id) for t in largest]).astype(np.float64)
        parts = KMeans(k, init=init, n_init=1, max_iter=max_iter, random_state=seed).fit_predict(
            self.vectors
        )
        old = np.asarray(self.topic_of)
        overlap = Counter(zip(parts.tolist(), old.tolist(), strict=True))
        # Greedy by overlap size: the biggest shared block decides who inherits an id.
        claimed_parts: dict[int, int] = {}
        used_old: set[int] = set()
        for (part, old_id), _ in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0])):
            if part not in claimed_parts and old_id not in used_old:
                claimed_parts[part] = old_id
                used_old.add(old_id)
        old_topics = self.topics
        self.topics = {}
        for part in range(k):
            idx = np.flatnonzero(parts == part).tolist()
            if not idx:
                continue
            if part in claimed_parts:
                tid = claimed_parts[part]
                name = old_topics[tid].name
            else:
                tid, name = self._next_topic, None
                self._next_topic += 1
            self.topics[tid] = Topic(
                id=tid, created_at=min(self.times[i] for i in idx), members=idx, name=name
            )
            for i in idx:
                self.topic_of[i] = tid
        self._rebuild_centroids()
        # Similarities depend on the basis, so the join threshold is recalibrated on the
        # store itself: only messages stranger than nearly all current members open topics.
        sims = np.einsum("ij,ij->i", self.vectors, self._centroids[self._member_rows()])
        # Never stricter than the product default: tight stores would otherwise split hairs.
        self.threshold = min(float(np.quantile(sims, self.outlier_quantile)), self.base_threshold)
        return {old_id: old_id for old_id in used_old if old_id in self.topics}

    def _member_rows(self) -> np.ndarray:
        return np.asarray([self._topic_row[t] for t in self.topic_of])
