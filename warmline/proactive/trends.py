"""Trend detection: when does a topic become a problem the team should hear about?

Pure and time-aware: the detector sees (topic, message, customer, time) in time
order and answers with trend events. Two rules, both counted in *different
customers* so one upset customer writing five times is not a trend:

* **new issue** — a topic nobody raised before (first seen after the warm-up and
  within the novelty window) reaches ``new_topic_min_customers`` customers inside
  ``new_topic_window`` (product default: the third customer within 24 hours);
* **volume rise** — an established topic's customers in the last ``rise_window``
  are at least ``rise_min_count``, ``rise_ratio`` times its own baseline rate and
  improbable under a Poisson model of that baseline (one-sided p ≤ ``rise_alpha``).

A flag opens a :class:`Trend` that follows the lifecycle
emerging → confirmed → acknowledged → fixed / dismissed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from scipy.stats import poisson

HOUR = 3600.0
DAY = 24 * HOUR

# Product defaults; a workspace may override any of them through TrendConfig.
NEW_TOPIC_MIN_CUSTOMERS = 3
NEW_TOPIC_WINDOW = 24 * HOUR
NOVELTY_WINDOW = 7 * DAY  # a topic whose first contact is older than this is no longer "new"
WARMUP = 7 * DAY  # history a workspace needs before "new" and "baseline" mean anything
RISE_WINDOW = 24 * HOUR
BASELINE_WINDOW = 14 * DAY
RISE_MIN_COUNT = 5
RISE_RATIO = 3.0
RISE_ALPHA = 1e-6  # strict: every message re-tests its topic, ~100 topics watched
BASELINE_FLOOR = 0.5  # expected customers per rise window when a topic has been silent
CONFIRM_MIN_CUSTOMERS = 6  # an emerging trend is confirmed once this many customers share it


@dataclass(frozen=True)
class TrendConfig:
    new_topic_min_customers: int = NEW_TOPIC_MIN_CUSTOMERS
    new_topic_window: float = NEW_TOPIC_WINDOW
    novelty_window: float = NOVELTY_WINDOW
    warmup: float = WARMUP
    rise_window: float = RISE_WINDOW
    baseline_window: float = BASELINE_WINDOW
    rise_min_count: int = RISE_MIN_COUNT
    rise_ratio: float = RISE_RATIO
    rise_alpha: float = RISE_ALPHA
    baseline_floor: float = BASELINE_FLOOR
    confirm_min_customers: int = CONFIRM_MIN_CUSTOMERS


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


class TrendDetector:
    """Sliding windows per topic; call :meth:`observe` once per message in time order."""

    def __init__(self, config: TrendConfig | None = None, *, start: float | None = None) -> None:
        self.config = config or TrendConfig()
        self.start = start
        self.history: dict[int, deque[Contact]] = {}
        self.first_seen: dict[int, float] = {}
        self.trends: dict[int, Trend] = {}
        self.open_by_topic: dict[int, int] = {}
        self._next_trend = 1

    @property
    def _horizon(self) -> float:
        c = self.config
        return max(c.baseline_window + c.rise_window, c.new_topic_window)

    def _record(self, topic_id: int, contact: Contact) -> deque[Contact]:
        if self.start is None:
            self.start = contact.time
        self.first_seen.setdefault(topic_id, contact.time)
        window = self.history.setdefault(topic_id, deque())
        window.append(contact)
        cutoff = contact.time - self._horizon
        while window and window[0].time < cutoff:
            window.popleft()
        return window

    def is_novel(self, topic_id: int, now: float) -> bool:
        """Previously unseen: first contact after the warm-up and within the novelty window."""
        first = self.first_seen[topic_id]
        return (
            self.start is not None
            and first >= self.start + self.config.warmup
            and now - first <= self.config.novelty_window
        )

    def observe(
        self, *, topic_id: int, message: Hashable, customer: str, time: float
    ) -> list[TrendEvent]:
        window = self._record(topic_id, Contact(time, customer, message))
        open_id = self.open_by_topic.get(topic_id)
        if open_id is not None:
            return self._follow(self.trends[open_id], customer, message, time)
        c = self.config
        if self.is_novel(topic_id, time):
            recent = [x for x in window if x.time > time - c.new_topic_window]
            customers = {x.customer for x in recent}
            if len(customers) >= c.new_topic_min_customers:
                return [self._flag(topic_id, Reason.NEW_TOPIC, recent, message, time, {})]
            return []
        if self.start is None or time - self.start < c.warmup:
            return []
        return self._check_rise(topic_id, window, message, time)

    def _check_rise(
        self, topic_id: int, window: deque[Contact], message: Hashable, time: float
    ) -> list[TrendEvent]:
        c = self.config
        edge = time - c.rise_window
        recent = [x for x in window if x.time > edge]
        observed = len({x.customer for x in recent})
        if observed < c.rise_min_count:
            return []
        watched = min(c.baseline_window, max(edge - self.start, c.rise_window))
        base = {x.customer for x in window if edge - watched <= x.time <= edge}
        expected = max(len(base) * c.rise_window / watched, c.baseline_floor)
        if observed < c.rise_ratio * expected:
            return []
        p = float(poisson.sf(observed - 1, expected))
        if p > c.rise_alpha:
            return []
        detail = {"observed": observed, "expected": round(expected, 3), "p_value": p}
        return [self._flag(topic_id, Reason.VOLUME_RISE, recent, message, time, detail)]

    def _flag(
        self,
        topic_id: int,
        reason: Reason,
        recent: list[Contact],
        message: Hashable,
        time: float,
        detail: dict,
    ) -> TrendEvent:
        trend = Trend(
            id=self._next_trend,
            topic_id=topic_id,
            reason=reason,
            flagged_at=time,
            at_message=message,
            members=[x.message for x in recent],
            customers={x.customer for x in recent},
        )
        self._next_trend += 1
        self.trends[trend.id] = trend
        self.open_by_topic[topic_id] = trend.id
        return TrendEvent(
            "flagged", trend.id, topic_id, message, time, reason, tuple(trend.members), detail
        )

    def _follow(
        self, trend: Trend, customer: str, message: Hashable, time: float
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
        if target not in OPEN_STATES and self.open_by_topic.get(trend.topic_id) == trend_id:
            del self.open_by_topic[trend.topic_id]
        return trend

    def rebuild(self, contacts: Iterable[tuple[int, Contact]], now: float) -> None:
        """Re-derive windows after topics were re-clustered (ids may have moved).

        Open trends stay attached to their topic id when it survived; first-seen times
        come from the topic's own contacts, so a topic formed from old messages is not new.
        """
        self.history = {}
        self.first_seen = {}
        cutoff = now - self._horizon
        for topic_id, contact in sorted(contacts, key=lambda tc: tc[1].time):
            self.first_seen.setdefault(topic_id, contact.time)
            if contact.time >= cutoff:
                self.history.setdefault(topic_id, deque()).append(contact)
        self.open_by_topic = {
            t.topic_id: t.id
            for t in self.trends.values()
            if t.state in OPEN_STATES and t.topic_id in self.first_seen
        }


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
) -> Iterable[dict]:
    """Topic-assign and trend-check messages in time order, yielding JSON-ready events.

    ``records`` carry ``id``, ``customer``, ``text`` and ``time`` (epoch seconds).
    The store is re-clustered when the warm-up ends and every ``recluster_every``
    seconds of stream time after that; re-clustering refits the representation on
    the workspace's own messages and keeps topic ids where the topics survive.
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
        for j, r in enumerate(batch):
            if next_recluster is None:
                next_recluster = r["time"] + config.warmup
            if recluster_every is not None and r["time"] >= next_recluster and len(store) >= 2:
                store.recluster()
                detector.rebuild(
                    (
                        (
                            store.topic_of[i],
                            Contact(store.times[i], store.customers[i], store.ids[i]),
                        )
                        for i in range(len(store))
                    ),
                    r["time"],
                )
                next_recluster = r["time"] + recluster_every
                # The basis was refitted: the rest of this batch needs the new encoder.
                vectors[j:] = store.encoder.encode([x["text"] for x in batch[j:]])
            topic = store.add(
                id=r["id"],
                customer=r["customer"],
                text=r["text"],
                time=r["time"],
                vector=vectors[j],
            )
            for event in detector.observe(
                topic_id=topic, message=r["id"], customer=r["customer"], time=r["time"]
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
