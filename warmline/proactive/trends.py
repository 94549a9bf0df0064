"""Trend detection: when does a problem become one the team should hear about?

Pure and time-aware: the detector sees (topic, message, customer, time and —
when known — the message's vector) in time order and answers with trend events.
Counts are always of *different customers*: one upset customer writing five
times is not a trend.

**What is counted.** For each new message, its *neighbourhood*: earlier messages
whose vectors are at least ``neighbour_similarity`` close to it (without vectors,
its topic). Counting a neighbourhood instead of a topic makes detection
independent of how online clustering happened to cut the space: a burst that
lands inside an existing broad topic is still a burst, and a fragment that
clustering split off an old topic still has that topic's history as baseline.

**The test.** ``observed`` = customers in the neighbourhood in the last
``new_topic_window`` (24 h); ``baseline`` = customers in the neighbourhood during
the ``baseline_window`` (14 days) before that window.

* *previously unseen issue*: ``baseline == 0`` and ``observed`` reaches
  ``new_topic_min_customers`` (3) → flagged (the product promise: the third
  customer within 24 hours);
* *rise above its own baseline*, with vectors (the replay, and live workspaces through
  ``live.py``): the **local test** (:func:`local_rise`) — of the message's k nearest
  earlier messages from other customers (ranked by cosine minus ``density_weight`` × the
  neighbour's own local density), how many fall in a recent window, against Binomial(k,
  the window's share of all watched messages); smallest p over ``local_ks`` ×
  ``rise_windows`` with Bonferroni, at most ``local_alpha``;
* *rise above its own baseline*, without vectors (or ``local_alpha=None``; in a live
  workspace also while it is young, ``live.is_young``): ``observed ≥ rise_min_count``,
  the window's rate is at least ``rise_ratio`` times the baseline rate, and the binomial
  test for two Poisson counts (given ``observed + baseline`` contacts, each falls in the
  window with probability window/(window + baseline period) when the rate is steady)
  gives one-sided p ≤ ``rise_alpha``.

Why the local test: on Banking77 a held-out intent that bursts usually sits next to old
intents (its messages have background neighbours within any fixed radius, so
"previously unseen" cannot fire) and its own paraphrases are often not within 0.75 of
each other, so a fixed-radius count grows slowly. Nearest neighbours adapt the radius to
the message, and the density correction (as in CSLS retrieval) stops crowded old
issues from filling the neighbour list ahead of the sparse new one.

The neighbourhood radius, ``rise_alpha``, ``local_alpha`` and ``density_weight`` were
tuned on Banking77 intents that are neither in the encoder's training data nor among
the reported ones (``bench/trends_tune.py``).

A flag opens a :class:`Trend` that follows the lifecycle
emerging → confirmed → acknowledged → fixed / dismissed; later messages close to
it (or in its topic when there are no vectors) join it instead of flagging again.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
from scipy.stats import binom

HOUR = 3600.0
DAY = 24 * HOUR

# Product defaults; a workspace may override any of them through TrendConfig.
NEW_TOPIC_MIN_CUSTOMERS = 3
NEW_TOPIC_WINDOW = 24 * HOUR
NOVELTY_WINDOW = 7 * DAY  # a topic whose first contact is older than this is no longer "new"
WARMUP = 7 * DAY  # history a workspace needs before "new" and "baseline" mean anything
RISE_WINDOW = 24 * HOUR  # the longest of the rise windows
RISE_WINDOWS = (1 * HOUR, 3 * HOUR, 8 * HOUR, 24 * HOUR)  # a burst shows first in the short ones
BASELINE_WINDOW = 14 * DAY
RISE_MIN_COUNT = 3  # with the short windows, 3 customers can already be a clear rise
RISE_RATIO = 3.0
RISE_ALPHA = 1e-5  # one-sided binomial tail (before Bonferroni over the windows); tuned
RISE_ALPHA_BESIDE_LOCAL = 1e-6  # the same test beside the local one; tuned likewise
NEIGHBOUR_SIMILARITY = 0.75  # cosine radius of a message's neighbourhood; tuned likewise
# "Previously unseen" is judged in a wider radius: a rare phrasing of an old issue has
# older neighbours a little farther away, a new issue has none.
NOVELTY_SIMILARITY = 0.7
BASELINE_FLOOR = 0.0  # kept for configuration compatibility (no floor: exact binomial test)
CONFIRM_MIN_CUSTOMERS = 6  # an emerging trend is confirmed once this many customers share it
# The local rise test (used whenever messages have vectors): how many of a message's k
# nearest earlier messages from other customers fall in a recent window.
LOCAL_KS = (2, 3, 4, 5, 6, 8, 12)
LOCAL_ALPHA = 2e-3  # family-wise over LOCAL_KS × RISE_WINDOWS (Bonferroni); tuned
DENSITY_K = 10  # a message's local density: mean similarity to its 10 nearest earlier messages
DENSITY_WEIGHT = 0.6  # ranking by similarity minus 0.6 × the neighbour's density (CSLS-like); tuned


@dataclass(frozen=True)
class TrendConfig:
    new_topic_min_customers: int = NEW_TOPIC_MIN_CUSTOMERS
    new_topic_window: float = NEW_TOPIC_WINDOW
    novelty_window: float = NOVELTY_WINDOW
    warmup: float = WARMUP
    rise_window: float = RISE_WINDOW
    rise_windows: tuple[float, ...] = RISE_WINDOWS
    baseline_window: float = BASELINE_WINDOW
    rise_min_count: int = RISE_MIN_COUNT
    rise_ratio: float = RISE_RATIO
    rise_alpha: float = RISE_ALPHA
    baseline_floor: float = BASELINE_FLOOR
    confirm_min_customers: int = CONFIRM_MIN_CUSTOMERS
    neighbour_similarity: float = NEIGHBOUR_SIMILARITY
    novelty_similarity: float = NOVELTY_SIMILARITY
    follow_similarity: float = 0.6  # a later message this close to an open trend joins it
    local_alpha: float | None = LOCAL_ALPHA  # None: the radius rise test instead
    local_ks: tuple[int, ...] = LOCAL_KS
    density_k: int = DENSITY_K
    density_weight: float = DENSITY_WEIGHT
    # With vectors the radius rise test runs beside the local test, at this stricter level
    # (None: not at all). The local test is built to see a new issue early; a known issue
    # whose volume climbs has dozens of old neighbours, and counting them all within the
    # radius sees the rise well before its few nearest neighbours do (see docs/trends.md).
    rise_alpha_beside_local: float | None = RISE_ALPHA_BESIDE_LOCAL


class TrendState(StrEnum):
    EMERGING = "emerging"
    CONFIRMED = "confirmed"
    ACKNOWLEDGED = "acknowledged"
    FIXED = "fixed"
    DISMISSED = "dismissed"


TRANSITIONS: dict[TrendState, frozenset[TrendState]] = {
    TrendState.EMERGING: frozenset(
        {TrendState.CONFIRMED, TrendState.ACKNOWLEDGED, TrendState.DISMISSED}
    ),
    TrendState.CONFIRMED: frozenset({TrendState.ACKNOWLEDGED, TrendState.DISMISSED}),
    TrendState.ACKNOWLEDGED: frozenset({TrendState.FIXED, TrendState.DISMISSED}),
    TrendState.FIXED: frozenset(),
    TrendState.DISMISSED: frozenset(),
}
OPEN_STATES = frozenset({TrendState.EMERGING, TrendState.CONFIRMED, TrendState.ACKNOWLEDGED})


class InvalidTransition(ValueError):
    """A lifecycle move the state machine does not allow (e.g. fixed → emerging)."""


def can_transition(current: TrendState, target: TrendState) -> bool:
    return target in TRANSITIONS[current]


def next_state(current: TrendState, target: TrendState) -> TrendState:
    if not can_transition(current, target):
        raise InvalidTransition(f"a trend cannot go from {current} to {target}")
    return target


class Reason(StrEnum):
    NEW_TOPIC = "new_topic"
    VOLUME_RISE = "volume_rise"


@dataclass
class Trend:
    id: int
    topic_id: int
    reason: Reason
    flagged_at: float
    at_message: Hashable
    members: list[Hashable]
    state: TrendState = TrendState.EMERGING
    customers: set[str] = field(default_factory=set)
    centroid: np.ndarray | None = None  # direction of its members, for joining by similarity


def advance(trend: Trend, target: TrendState) -> Trend:
    """A copy of the trend in its new state; refuses moves the lifecycle forbids."""
    return replace(trend, state=next_state(trend.state, target))


@dataclass(frozen=True)
class TrendEvent:
    event: str  # "flagged" | "confirmed"
    trend: int
    topic_id: int
    at_message: Hashable
    time: float
    reason: Reason
    members: tuple[Hashable, ...]
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Contact:
    time: float
    customer: str
    message: Hashable


def rise_p_value(observed: int, baseline: int, window: float, watched: float) -> float:
    """One-sided p that a steady rate puts ``observed`` of ``observed + baseline`` contacts
    into a window of length ``window`` next to a baseline period of length ``watched``."""
    q = window / (window + watched)
    return float(binom.sf(observed - 1, observed + baseline, q))


def evaluate(
    *,
    now: float,
    start: float,
    near: list[Contact],
    wide: list[Contact],
    config: TrendConfig,
    rise_alpha: float | None,
) -> tuple[Reason, float, dict] | None:
    """The detection rule on one message's neighbourhood (see the module docstring).

    ``near``: contacts within ``neighbour_similarity`` of the message (itself included),
    ``wide``: within ``novelty_similarity``; both reaching back over the baseline period.
    Returns (reason, window length, detail) when the neighbourhood is flagged;
    ``rise_alpha`` is the radius rise test's level (:func:`radius_rise_level`); None
    applies only the previously-unseen rule.
    """

    def customers(contacts, lo: float, hi: float | None = None) -> set[str]:
        return {x.customer for x in contacts if x.time > lo and (hi is None or x.time <= hi)}

    def baseline_span(window_len: float) -> tuple[float, float]:
        edge = now - window_len
        return edge, min(config.baseline_window, max(edge - start, window_len))

    flagged: tuple[Reason, float, dict] | None = None
    # A previously unseen issue: the third customer within 24 h, nothing like it before.
    edge, watched = baseline_span(config.new_topic_window)
    observed = len(customers(near, edge))
    if observed >= config.new_topic_min_customers and not customers(wide, edge - watched, edge):
        detail = {
            "observed": observed,
            "window_hours": round(config.new_topic_window / HOUR, 2),
            "baseline_customers": 0,
            "baseline_days": round(watched / DAY, 2),
        }
        flagged = (Reason.NEW_TOPIC, config.new_topic_window, detail)
    elif rise_alpha is not None:
        # A rise above its own baseline, in any of the windows (Bonferroni over them).
        alpha = rise_alpha / len(config.rise_windows)
        for span in config.rise_windows:
            edge, watched = baseline_span(span)
            observed = len(customers(near, edge))
            if observed < config.rise_min_count:
                continue
            baseline = len(customers(near, edge - watched, edge))
            if observed / span < config.rise_ratio * baseline / watched:
                continue
            p = rise_p_value(observed, baseline, span, watched)
            if p <= alpha:
                detail = {
                    "observed": observed,
                    "window_hours": round(span / HOUR, 2),
                    "baseline_customers": baseline,
                    "baseline_days": round(watched / DAY, 2),
                    "p_value": p,
                }
                flagged = (Reason.VOLUME_RISE, span, detail)
                break
    return flagged


def radius_rise_level(config: TrendConfig, *, local: bool, young: bool = False) -> float | None:
    """The radius rise test's level for one message; None: it does not run.

    Alone (no vectors, or no local test) and in a young workspace it is the test, at
    ``rise_alpha``; beside the local test, at ``rise_alpha_beside_local``.
    """
    if not local or young:
        return config.rise_alpha
    return config.rise_alpha_beside_local


class _Customers:
    """``contacts[offset:]`` read as their customers, without copying the list."""

    def __init__(self, contacts: list[Contact], offset: int) -> None:
        self.contacts, self.offset = contacts, offset

    def __getitem__(self, i: int) -> str:
        return self.contacts[self.offset + i].customer


def local_rise(
    *,
    scores: np.ndarray,
    times: np.ndarray,
    customers: _Customers | list[str],
    now: float,
    customer: str,
    config: TrendConfig,
) -> tuple[float, float, list[int], dict] | None:
    """The local rise test on one message's ranked earlier messages.

    ``scores`` rank the earlier messages of the baseline period and the windows (in time
    order, ``times`` ascending) by closeness to the message. Walking down that ranking and
    keeping one message per customer (never the writer's own), the message's k nearest
    neighbours are found; if the volume is steady, each of them falls in a recent window
    with the window's share ``q`` of all messages watched (the volume share, so daily and
    weekly rhythms cancel), and the count that does is Binomial(k, q). The smallest tail
    p over the windows and ``local_ks``, times the number of tests (Bonferroni), is
    compared with ``local_alpha``. Returns (p, window, member rows, detail) when flagged.

    This is a k-nearest-neighbour density ratio: the radius adapts to every message (a
    dense region of old issues gets a small one), and nothing is zero: with no near
    baseline at all, the neighbours still come from the whole watched period.
    """
    ks = sorted(k for k in config.local_ks if k >= 2)
    n = len(times)
    if not ks or n < 2 * ks[-1]:
        return None
    want = ks[-1]
    top = min(4 * want, n)
    order = np.argpartition(-scores, top - 1)[:top]
    order = order[np.argsort(-scores[order], kind="stable")]
    seen, rows = {customer}, []
    for i in order.tolist():
        if customers[i] not in seen:
            seen.add(customers[i])
            rows.append(i)
            if len(rows) == want:
                break
    if len(rows) < ks[0]:
        return None
    tests = len(config.rise_windows) * len(ks)
    row_times = times[rows]
    best: tuple[float, float, int, int] | None = None
    for span in config.rise_windows:
        q = (n - int(np.searchsorted(times, now - span, side="right"))) / n
        inside = np.cumsum(row_times > now - span)
        for k in ks:
            if k > len(rows):
                break
            m = int(inside[k - 1])
            if m < 2:
                continue
            p = min(1.0, float(binom.sf(m - 1, k, q)) * tests)
            if best is None or p < best[0]:
                best = (p, span, k, m)
    if best is None or best[0] > config.local_alpha:
        return None
    p, span, k, m = best
    members = [i for i in rows[:k] if times[i] > now - span]
    detail = {
        "observed": m + 1,
        "window_hours": round(span / HOUR, 2),
        "nearest": k,
        "expected": round(k * (n - int(np.searchsorted(times, now - span, side="right"))) / n, 4),
        "p_value": p,
    }
    return p, span, members, detail


def local_density(sims: np.ndarray, k: int) -> float:
    """A message's local density from its similarities to the earlier messages it watches:
    the mean of the ``k`` largest (of all of them when fewer; 0 when none)."""
    if len(sims) > k:
        return float(np.partition(sims, len(sims) - k)[-k:].mean())
    if len(sims):
        return float(sims.mean())
    return 0.0


class _Recent:
    """The last ``horizon`` seconds of contacts with their vectors (a growing array trimmed
    from the front), so a neighbourhood is one matrix-vector product."""

    def __init__(self, dims: int) -> None:
        self.times: list[float] = []
        self.contacts: list[Contact] = []
        self.vectors = np.zeros((1024, dims), dtype=np.float32)
        self.density = np.zeros(1024, dtype=np.float32)  # see TrendConfig.density_k
        self.time_array = np.zeros(1024, dtype=np.float64)  # times again, for vector maths

    def append(self, contact: Contact, vector: np.ndarray, horizon: float) -> None:
        cut = bisect.bisect_left(self.times, contact.time - horizon)
        if cut > 0 and cut * 2 >= len(self.times):
            keep = len(self.times) - cut
            self.vectors[:keep] = self.vectors[cut : len(self.times)]
            self.density[:keep] = self.density[cut : len(self.times)]
            self.time_array[:keep] = self.time_array[cut : len(self.times)]
            del self.times[:cut], self.contacts[:cut]
        n = len(self.times)
        if n >= len(self.vectors):
            self.vectors = np.vstack([self.vectors, np.zeros_like(self.vectors)])
            self.density = np.concatenate([self.density, np.zeros_like(self.density)])
            self.time_array = np.concatenate([self.time_array, np.zeros_like(self.time_array)])
        self.vectors[n] = vector
        self.density[n] = 0.0
        self.time_array[n] = contact.time
        self.times.append(contact.time)
        self.contacts.append(contact)

    def similarities(self, vector: np.ndarray, since: float, upto: int) -> tuple[int, np.ndarray]:
        """(first row, similarities of rows since ``since`` and before row ``upto``)."""
        lo = bisect.bisect_left(self.times, since)
        return lo, self.vectors[lo:upto] @ vector

    def set_density(self, row: int, sims: np.ndarray, k: int) -> None:
        """A row's local density: mean similarity to its ``k`` nearest earlier messages."""
        self.density[row] = local_density(sims, k)

    def near(
        self, vector: np.ndarray, since: float, similarity: float
    ) -> tuple[list[int], np.ndarray]:
        """Rows since ``since`` at least ``similarity`` close, with their similarities."""
        lo = bisect.bisect_left(self.times, since)
        sims = self.vectors[lo : len(self.times)] @ vector
        hits = np.flatnonzero(sims >= similarity)
        return (hits + lo).tolist(), sims[hits]


class TrendDetector:
    """Call :meth:`observe` once per message in time order; it answers with trend events."""

    def __init__(self, config: TrendConfig | None = None, *, start: float | None = None) -> None:
        self.config = config or TrendConfig()
        self.start = start
        self.history: dict[int, deque[Contact]] = {}
        self.first_seen: dict[int, float] = {}
        self.trends: dict[int, Trend] = {}
        self.open_ids: list[int] = []  # open trends, oldest first
        self._recent: _Recent | None = None
        self._next_trend = 1

    @property
    def _horizon(self) -> float:
        c = self.config
        return c.baseline_window + max(c.rise_window, c.new_topic_window, *c.rise_windows)

    def _record(self, topic_id: int, contact: Contact, vector: np.ndarray | None) -> deque[Contact]:
        if self.start is None:
            self.start = contact.time
        self.first_seen.setdefault(topic_id, contact.time)
        window = self.history.setdefault(topic_id, deque())
        window.append(contact)
        cutoff = contact.time - self._horizon
        while window and window[0].time < cutoff:
            window.popleft()
        if vector is not None:
            if self._recent is None:
                self._recent = _Recent(len(vector))
            self._recent.append(contact, vector, self._horizon)
        return window

    def is_novel(self, topic_id: int, now: float) -> bool:
        """Previously unseen topic: first contact after the warm-up, within the novelty window."""
        first = self.first_seen[topic_id]
        return (
            self.start is not None
            and first >= self.start + self.config.warmup
            and now - first <= self.config.novelty_window
        )

    @property
    def open_by_topic(self) -> dict[int, int]:
        """Topic id → its open trend (the most recent when a topic has several)."""
        return {self.trends[t].topic_id: t for t in self.open_ids}

    def _open_trend_for(self, topic_id: int, vector: np.ndarray | None) -> Trend | None:
        """The open trend this message belongs to: by similarity when vectors are known."""
        best, best_sim = None, self.config.follow_similarity
        for trend_id in self.open_ids:
            trend = self.trends[trend_id]
            if trend.topic_id == topic_id and (vector is None or trend.centroid is None):
                return trend
            if vector is None or trend.centroid is None:
                continue
            sim = float(trend.centroid @ vector)
            if sim >= best_sim:
                best, best_sim = trend, sim
        return best

    def observe(
        self,
        *,
        topic_id: int,
        message: Hashable,
        customer: str,
        time: float,
        vector: np.ndarray | None = None,
    ) -> list[TrendEvent]:
        contact = Contact(time, customer, message)
        window = self._record(topic_id, contact, vector)
        c = self.config
        longest = max(c.new_topic_window, *c.rise_windows)
        since = time - longest - c.baseline_window
        recent, row, lo, all_sims = self._recent, -1, 0, None
        if vector is not None and recent is not None:
            # Every message's local density is kept (a later message's ranking needs it).
            row = len(recent.times) - 1
            lo, all_sims = recent.similarities(vector, since, row)
            recent.set_density(row, all_sims, c.density_k)
        trend = self._open_trend_for(topic_id, vector)
        if trend is not None:
            return self._follow(trend, customer, message, time, vector)
        if self.start is None or time - self.start < c.warmup:
            return []
        if all_sims is not None:
            keep = np.flatnonzero(all_sims >= min(c.novelty_similarity, c.neighbour_similarity))
            rows = (keep + lo).tolist() + [row]  # the message itself is in its neighbourhood
            sims = np.append(all_sims[keep], np.float32(1.0))
            wide = [recent.contacts[i] for i in rows]
            close = sims >= c.neighbour_similarity
            near = [x for x, ok in zip(wide, close, strict=True) if ok]
            near_vectors = recent.vectors[[i for i, ok in zip(rows, close, strict=True) if ok]]
        else:  # no vectors: the topic is the neighbourhood
            wide = near = [x for x in window if x.time >= since]
            near_vectors = None

        local = all_sims is not None and c.local_alpha is not None
        flagged = evaluate(
            now=time,
            start=self.start,
            near=near,
            wide=wide,
            config=c,
            rise_alpha=radius_rise_level(c, local=local),
        )
        if flagged is None and local:
            found = local_rise(
                scores=all_sims - c.density_weight * recent.density[lo:row],
                times=recent.time_array[lo:row],
                customers=_Customers(recent.contacts, lo),
                now=time,
                customer=customer,
                config=c,
            )
            if found is None:
                return []
            _, span, members, detail = found
            rows = [lo + i for i in members] + [row]
            total = recent.vectors[rows].sum(axis=0)
            centroid = total / max(float(np.linalg.norm(total)), 1e-9)
            return [
                self._flag(
                    topic_id,
                    Reason.VOLUME_RISE,
                    [recent.contacts[i] for i in rows],
                    message,
                    time,
                    detail,
                    centroid,
                )
            ]
        if flagged is None:
            return []
        reason, span, detail = flagged
        inside = [k for k, x in enumerate(near) if x.time > time - span]
        joined = [near[k] for k in inside]
        centroid = None
        if near_vectors is not None and inside:
            total = near_vectors[inside].sum(axis=0)
            centroid = total / max(float(np.linalg.norm(total)), 1e-9)
        return [self._flag(topic_id, reason, joined, message, time, detail, centroid)]

    def _flag(
        self,
        topic_id: int,
        reason: Reason,
        recent: list[Contact],
        message: Hashable,
        time: float,
        detail: dict,
        centroid: np.ndarray | None = None,
    ) -> TrendEvent:
        trend = Trend(
            id=self._next_trend,
            topic_id=topic_id,
            reason=reason,
            flagged_at=time,
            at_message=message,
            members=[x.message for x in recent],
            customers={x.customer for x in recent},
            centroid=centroid,
        )
        self._next_trend += 1
        self.trends[trend.id] = trend
        self.open_ids.append(trend.id)
        return TrendEvent(
            "flagged", trend.id, topic_id, message, time, reason, tuple(trend.members), detail
        )

    def _follow(
        self,
        trend: Trend,
        customer: str,
        message: Hashable,
        time: float,
        vector: np.ndarray | None = None,
    ) -> list[TrendEvent]:
        """Later contacts join the open trend; enough customers confirm an emerging one."""
        trend.members.append(message)
        trend.customers.add(customer)
        if (
            trend.state is TrendState.EMERGING
            and len(trend.customers) >= self.config.confirm_min_customers
        ):
            trend.state = next_state(trend.state, TrendState.CONFIRMED)
            return [
                TrendEvent(
                    "confirmed",
                    trend.id,
                    trend.topic_id,
                    message,
                    time,
                    trend.reason,
                    tuple(trend.members),
                )
            ]
        return []

    def set_state(self, trend_id: int, target: TrendState) -> Trend:
        """Move a trend along its lifecycle; closing it lets its topic be flagged again."""
        trend = self.trends[trend_id]
        trend.state = next_state(trend.state, target)
        if target not in OPEN_STATES and trend_id in self.open_ids:
            self.open_ids.remove(trend_id)
        return trend

    def rebuild(
        self,
        contacts: Iterable[tuple[int, Contact]],
        now: float,
        *,
        vectors: np.ndarray | None = None,
        basis_changed: bool = False,
    ) -> None:
        """Re-derive windows after topics were re-clustered (ids may have moved).

        ``contacts`` are in arrival order, aligned with ``vectors`` when given. First-seen
        times come from the topic's own contacts, so a topic formed from old messages is
        not new. When the vector basis changed, open trends fall back to their topic.
        """
        self.history = {}
        self.first_seen = {}
        cutoff = now - self._horizon
        contacts = list(contacts)
        recent = None
        for n, (topic_id, contact) in enumerate(contacts):
            self.first_seen.setdefault(topic_id, contact.time)
            if contact.time >= cutoff:
                self.history.setdefault(topic_id, deque()).append(contact)
                if vectors is not None:
                    if recent is None:
                        recent = _Recent(vectors.shape[1])
                    recent.append(contact, vectors[n], self._horizon)
                    row = len(recent.times) - 1
                    _, sims = recent.similarities(vectors[n], contact.time - self._horizon, row)
                    recent.set_density(row, sims, self.config.density_k)
        if vectors is not None:
            self._recent = recent
        if basis_changed:
            for trend_id in self.open_ids:
                self.trends[trend_id].centroid = None


# Re-clustering cadence in stream time: once when the warm-up ends, then weekly.
RECLUSTER_EVERY = 7 * DAY
REPLAY_BATCH = 256


def replay(
    records: Iterable[dict],
    *,
    config: TrendConfig | None = None,
    store=None,
    recluster_every: float | None = RECLUSTER_EVERY,
    lifecycle: bool = False,
    detect_encoder=None,
) -> Iterable[dict]:
    """Topic-assign and trend-check messages in time order, yielding JSON-ready events.

    ``records`` carry ``id``, ``customer``, ``text`` and ``time`` (epoch seconds).
    The store is re-clustered when the warm-up ends and every ``recluster_every``
    seconds of stream time after that; re-clustering keeps topic ids where the topics
    survive (and refits the representation only for an unsupervised encoder).
    ``detect_encoder`` (anything with ``encode(texts) -> unit vectors``, e.g. the optional
    MiniLM of ``warmline.empathy.semantic``) gives the detector its own vectors; topics
    keep the store's. Not a product default: the default detector uses the topic vectors.
    """
    from warmline.proactive.topics import TopicStore

    config = config or TrendConfig()
    store = store if store is not None else TopicStore()
    detector = TrendDetector(config)
    next_recluster: float | None = None
    batch: list[dict] = []

    def run(batch: list[dict]) -> Iterable[dict]:
        nonlocal next_recluster
        vectors = store.encoder.encode([r["text"] for r in batch])
        seen = (
            detect_encoder.encode([r["text"] for r in batch])
            if detect_encoder is not None
            else vectors
        )
        for j, r in enumerate(batch):
            if next_recluster is None:
                next_recluster = r["time"] + config.warmup
            if recluster_every is not None and r["time"] >= next_recluster and len(store) >= 2:
                encoder = store.encoder
                store.recluster()
                changed = store.encoder is not encoder
                detector.rebuild(
                    (
                        (
                            store.topic_of[i],
                            Contact(store.times[i], store.customers[i], store.ids[i]),
                        )
                        for i in range(len(store))
                    ),
                    r["time"],
                    vectors=store.vectors if changed and detect_encoder is None else None,
                    basis_changed=changed and detect_encoder is None,
                )
                next_recluster = r["time"] + recluster_every
                if changed:  # the basis was refitted: the rest of the batch needs it too
                    vectors[j:] = store.encoder.encode([x["text"] for x in batch[j:]])
            topic = store.add(
                id=r["id"],
                customer=r["customer"],
                text=r["text"],
                time=r["time"],
                vector=vectors[j],
            )
            for event in detector.observe(
                topic_id=topic,
                message=r["id"],
                customer=r["customer"],
                time=r["time"],
                vector=seen[j],
            ):
                if event.event == "flagged" or lifecycle:
                    yield {
                        "event": event.event,
                        "trend": event.trend,
                        "at_message": event.at_message,
                        "label": store.label(topic),
                        "members": list(event.members),
                        "topic": topic,
                        "reason": str(event.reason),
                        **({"detail": event.detail} if event.detail else {}),
                    }

    for record in records:
        batch.append(record)
        if len(batch) >= REPLAY_BATCH:
            yield from run(batch)
            batch = []
    if batch:
        yield from run(batch)
