"""The live trend detector: the replay's decision on a workspace's whole watched period.

``services.assign_message`` files a message and then asks :func:`check` whether it
starts a trend. :func:`check` runs exactly what :meth:`trends.TrendDetector.observe`
runs in the replay, on the same neighbourhood — every message of the workspace from the
last ``baseline_window`` + longest window (14 days + 24 h with the defaults), not only the
nearest topics' ones:

* the previously-unseen rule (:func:`trends.evaluate`),
* the k-nearest-neighbour local rise test (:func:`trends.local_rise`), which ranks the
  watched messages by similarity minus ``density_weight`` × each one's *local density*
  (mean similarity to its ``density_k`` nearest earlier messages of its own watched
  period, measured the way the replay measures it),
* and, while the workspace is **young** (:func:`is_young`), the radius rise test as well.

**State is a cache of the database, never the truth.** Each worker process keeps, per
workspace, the watched ``TopicMessage`` rows as numpy arrays (:class:`Watched`): id,
entry, customer, time, vector and the density the cache computed for it. Before every
decision the cache is synced by id: rows newer than its high-water mark (and older than
the message being checked) are loaded and get their density; rows that left the watched
period (kept a day longer, :data:`SLACK`) are dropped; and one ``COUNT`` of the held rows
must equal the cache's, or the
cache is rebuilt from the database (a deleted row, a rolled-back row, a row committed out
of id order). A restarted worker, or one that sees a workspace for the first time,
rebuilds from the database. Each checked message's density is stored with its row
(``TopicMessage.density``, with the ``density_k`` and span it was measured with), so a
rebuild reads them; rows without one (filed during the warm-up, while following an open
trend, before the column existed, or under other settings) are measured on their own
past — for them it loads the watched period before the held one too — and written
back. Ids are allocated in commit order within a workspace (``assign_message`` locks the
workspace's active topics; SQLite writes one transaction at a time), so "older than the message's id" is "filed
before it", which is the replay's arrival order. Per-workspace state is guarded by a lock,
so threads of one worker share it safely; processes each keep their own.

**Memory:** per watched message 128 float32 (512 bytes) + id, entry, customer (int64),
time (float64) and density (float32): about 550 bytes, so 3.3 MB for 6,000 watched
messages. At most :data:`MAX_WORKSPACES` workspaces are kept per process (least recently
used dropped first); arrays keep a quarter of headroom, are compacted in place when full
and grow only when less than a quarter would be free.

**The young-workspace fallback.** Densities are measured on each message's own past, so
in a workspace's first weeks they are underestimated, worst for the oldest messages,
which then outrank a real burst in the local test's ranking (a first port without this
missed an obvious burst of a known issue within 10 messages on a 5-day, ~125-message
workspace; on the 5-day, 133-message workspace of the tests the local test alone flags it
at the 9th message, the radius test at the 4th). So while the workspace has less than
one watched period of history (15 days by default) or fewer than :data:`MIN_WATCHED`
messages in it, the radius rise test runs at its own level ``rise_alpha``; after that
it runs beside the local test at the stricter ``rise_alpha_beside_local``, as in the
replay, and live and replay decide alike.

**Limits.** A message checked more than a day older than the newest one checked makes the
cache rebuild (its watched period starts before what is held). A row filed out of time
order gets its density from the rows held when it is synced, as a continuously running
worker would; a rebuild measures it on every row filed before it, which differs only when
that row is more than a day late. A stored density is the one measured when the row was
checked; a row of its past deleted later does not change it. Measuring densities costs
time in the square of the watched messages (0.5 s at ~6,000 on the bench machine), so
only the first rebuild of a workspace (or one after its settings change) pays it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from warmline.db import bulk

from . import trends as trend_math
from .models import TopicMessage

MAX_WORKSPACES = 64  # per worker process; ~4 MB each at 6,000 watched messages
MIN_WATCHED = 100  # fewer watched messages than this: the radius rise test runs too
_BLOCK = 512  # rows per block when a rebuild measures densities
# Rows are kept a day longer than watched: a message up to a day older than the newest one
# checked (mail delivered late, a slow channel) is checked without a rebuild.
SLACK = dt.timedelta(days=1)


def watched_span(config: trend_math.TrendConfig) -> float:
    """Seconds before a message that its neighbourhood and its density reach back."""
    return max(config.new_topic_window, *config.rise_windows) + config.baseline_window


def is_young(config: trend_math.TrendConfig, *, history: float, watched: int) -> bool:
    """Too little history for the densities to mean what they mean in the replay."""
    return history < watched_span(config) or watched < MIN_WATCHED


def _vectors(raw: list, dims: int) -> np.ndarray:
    out = np.zeros((len(raw), dims), dtype=np.float32)
    for i, blob in enumerate(raw):
        data = bytes(blob)
        if len(data) == dims * 4:
            out[i] = np.frombuffer(data, dtype=np.float32)
    return out


def _ts(moment: dt.datetime) -> float:
    return moment.timestamp()


class Watched:
    """One workspace's watched messages, sorted by (time, id), rows ``[lo, n)`` live."""

    def __init__(self, workspace_id: int, dims: int, span: float, density_k: int) -> None:
        self.workspace_id = workspace_id
        self.dims, self.span, self.density_k = dims, span, density_k
        self.lock = threading.Lock()
        self.hwm = 0  # highest TopicMessage id loaded
        self.floor: dt.datetime | None = None  # every row from here on is held
        self.loaded = False
        self._alloc(1024)
        self.lo = self.n = 0

    def _alloc(self, capacity: int) -> None:
        self.pks = np.zeros(capacity, dtype=np.int64)
        self.entries = np.zeros(capacity, dtype=np.int64)
        self.customers = np.zeros(capacity, dtype=np.int64)
        self.times = np.zeros(capacity, dtype=np.float64)
        self.density = np.zeros(capacity, dtype=np.float32)
        self.vectors = np.zeros((capacity, self.dims), dtype=np.float32)

    _ARRAYS = ("pks", "entries", "customers", "times", "density", "vectors")

    def __len__(self) -> int:
        return self.n - self.lo

    # -- loading ---------------------------------------------------------------------

    @property
    def basis(self) -> str:
        """What a stored density was measured with; another basis means measure again."""
        return density_basis(self.density_k, self.span)

    def _rows(self, **filters) -> tuple[list, np.ndarray]:
        rows = list(
            TopicMessage.objects.filter(workspace_id=self.workspace_id, **filters)
            .order_by("pk")
            .values_list(
                "pk", "entry_id", "customer_id", "occurred_at", "vector", "density", "density_basis"
            )
        )
        return rows, _vectors([r[4] for r in rows], self.dims)

    def _stored(self, row: tuple) -> float | None:
        return row[5] if row[5] is not None and row[6] == self.basis else None

    def rebuild(self, *, below: int, floor: dt.datetime) -> None:
        """Load every row filed before id ``below`` from ``floor`` on, each with its density.

        A density stored with the row (by :func:`check`, or by an earlier rebuild) is used
        as it is; the others are measured on the row's own past (so rows from one more
        watched period are read) and written back, so the next restart reads them too.
        """
        rows, vectors = self._rows(pk__lt=below, occurred_at__gte=floor)
        if any(self._stored(r) is None for r in rows):  # their past is needed too
            older, more = self._rows(
                pk__lt=below,
                occurred_at__gte=floor - dt.timedelta(seconds=self.span),
                occurred_at__lt=floor,
            )
            rows += older
            by_id = np.argsort([r[0] for r in rows], kind="stable")
            rows, vectors = [rows[i] for i in by_id], np.vstack([vectors, more])[by_id]
        count = len(rows)
        times = np.array([_ts(r[3]) for r in rows], dtype=np.float64)
        density = np.zeros(count, dtype=np.float32)
        keep = np.flatnonzero(times >= _ts(floor))
        missing = []
        for i in keep.tolist():
            stored = self._stored(rows[i])
            if stored is None:
                missing.append(i)
            else:
                density[i] = stored
        measure = np.array(missing, dtype=np.int64)
        # rows are in id (filing) order: a row's past is the rows before it in that order
        # whose time lies within its watched span.
        for start in range(0, len(measure), _BLOCK):
            block = measure[start : start + _BLOCK]
            sims = vectors[block] @ vectors.T
            for j, i in enumerate(block.tolist()):
                t = times[i]
                past = np.flatnonzero((times[:i] >= t - self.span) & (times[:i] <= t))
                density[i] = trend_math.local_density(sims[j, past], self.density_k)
        if missing:
            _store_densities([(rows[i][0], float(density[i])) for i in missing], self.basis)
        order = keep[np.lexsort((keep, times[keep]))]  # by time, ties in filing order
        self._alloc(max(1024, len(order) + len(order) // 4 + 64))
        n = len(order)
        self.pks[:n] = [rows[i][0] for i in order.tolist()]
        self.entries[:n] = [rows[i][1] for i in order.tolist()]
        self.customers[:n] = [rows[i][2] for i in order.tolist()]
        self.times[:n] = times[order]
        self.density[:n] = density[order]
        self.vectors[:n] = vectors[order]
        self.lo, self.n = 0, n
        self.hwm = max((r[0] for r in rows), default=0)
        self.floor = floor
        self.loaded = True

    def _insert(self, pk: int, entry: int, customer: int, t: float, v, density: float) -> None:
        if self.n == len(self.pks):  # full: compact, or grow when a quarter is not free
            live = self.n - self.lo
            want = max(1024, live + live // 4 + 64)
            if want > len(self.pks):
                old = {name: getattr(self, name)[self.lo : self.n] for name in self._ARRAYS}
                self._alloc(want)
                for name, values in old.items():
                    getattr(self, name)[:live] = values
            else:
                for name in self._ARRAYS:
                    arr = getattr(self, name)
                    arr[:live] = arr[self.lo : self.n]
            self.lo, self.n = 0, live
        pos = self.n
        if self.n > self.lo and t < self.times[self.n - 1]:  # filed out of time order
            pos = self.lo + int(np.searchsorted(self.times[self.lo : self.n], t, side="right"))
            for name in self._ARRAYS:
                arr = getattr(self, name)
                arr[pos + 1 : self.n + 1] = arr[pos : self.n].copy()
        self.pks[pos], self.entries[pos], self.customers[pos] = pk, entry, customer
        self.times[pos], self.vectors[pos], self.density[pos] = t, v, density
        self.n += 1

    def window(self, t: float) -> tuple[int, int]:
        """Rows within a message's watched span: time in [t - span, t]."""
        times = self.times[self.lo : self.n]
        a = int(np.searchsorted(times, t - self.span, side="left"))
        b = int(np.searchsorted(times, t, side="right"))
        return self.lo + a, self.lo + b

    def sync(self, *, below: int, now: dt.datetime) -> None:
        """Bring the cache up to every row filed before id ``below`` that a message at
        ``now`` watches; rebuild from the database when the cache cannot be trusted."""
        need = now - dt.timedelta(seconds=self.span)
        if not self.loaded or self.floor is None or need < self.floor or self.hwm >= below:
            self.rebuild(below=below, floor=need - SLACK)
            return
        rows, vectors = self._rows(pk__gt=self.hwm, pk__lt=below)
        for row, v in zip(rows, vectors, strict=True):
            t = _ts(row[3])
            d = self._stored(row)
            if d is None:
                a, b = self.window(t)
                d = trend_math.local_density(self.vectors[a:b] @ v, self.density_k)
            self._insert(row[0], row[1], row[2], t, v, d)
            self.hwm = row[0]
        # Drop what left the watched period, but for a day's slack: a message a little
        # older than the newest one checked does not make the cache rebuild.
        self.floor = max(self.floor, need - SLACK)
        cut = _ts(self.floor)
        self.lo += int(np.searchsorted(self.times[self.lo : self.n], cut, side="left"))
        count = TopicMessage.objects.filter(
            workspace_id=self.workspace_id, pk__lt=below, occurred_at__gte=self.floor
        ).count()
        if count != len(self):  # deleted, rolled back or committed out of id order: reload
            self.rebuild(below=below, floor=self.floor)


def density_basis(density_k: int, span: float) -> str:
    return f"k{density_k}/{int(span)}s"


def _store_densities(values: list[tuple[int, float]], basis: str) -> None:
    """Write measured densities back to their rows (one executemany: a first rebuild
    writes thousands; ``bulk_update``'s CASE statements took seconds for 6,000)."""
    bulk.update_rows(
        TopicMessage,
        [TopicMessage(pk=pk, density=d, density_basis=basis) for pk, d in values],
        ["density", "density_basis"],
    )


_cache: OrderedDict[int, Watched] = OrderedDict()
_cache_lock = threading.Lock()


def watched(workspace_id: int, dims: int, config: trend_math.TrendConfig) -> Watched:
    """This process's cache of a workspace's watched messages (created empty)."""
    span = watched_span(config)
    with _cache_lock:
        found = _cache.get(workspace_id)
        if found is None or (found.dims, found.span, found.density_k) != (
            dims,
            span,
            config.density_k,
        ):
            found = Watched(workspace_id, dims, span, config.density_k)
            _cache[workspace_id] = found
        _cache.move_to_end(workspace_id)
        while len(_cache) > MAX_WORKSPACES:
            _cache.popitem(last=False)
        return found


def forget(workspace_id: int | None = None) -> None:
    """Drop the cache of one workspace (or all): the next check rebuilds it."""
    with _cache_lock:
        if workspace_id is None:
            _cache.clear()
        else:
            _cache.pop(workspace_id, None)


@dataclass(frozen=True)
class Flag:
    reason: trend_math.Reason
    detail: dict
    members: list[int]  # TopicMessage ids, the checked message's last
    centroid: np.ndarray


class _Customers:
    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __getitem__(self, i: int) -> int:
        return int(self.values[i])


def check(
    *,
    workspace_id: int,
    message: int,
    customer: int,
    now: dt.datetime,
    start: dt.datetime,
    vector: np.ndarray,
    config: trend_math.TrendConfig,
) -> Flag | None:
    """The replay's decision for TopicMessage ``message`` (filed, not yet committed).

    ``start`` is the workspace's first message (the warm-up and young checks count from
    it); following open trends and the warm-up are the caller's, as before.
    """
    state = watched(workspace_id, len(vector), config)
    with state.lock:
        state.sync(below=message, now=now)
        t, origin = _ts(now), _ts(start)
        a, b = state.window(t)
        sims = state.vectors[a:b] @ vector
        times = state.times[a:b]
        customers = state.customers[a:b]
        c = config
        # The window is the message's own past: its density, as the cache would measure
        # it when it syncs the row, stored with the row for the next restart.
        TopicMessage.objects.filter(pk=message).update(
            density=trend_math.local_density(sims, c.density_k), density_basis=state.basis
        )
        keep = np.flatnonzero(sims >= min(c.novelty_similarity, c.neighbour_similarity))
        own = trend_math.Contact(t, int(customer), message)
        wide = [
            trend_math.Contact(float(times[i]), int(customers[i]), int(state.pks[a + i]))
            for i in keep.tolist()
        ] + [own]
        close = np.append(sims[keep], np.float32(1.0)) >= c.neighbour_similarity
        near = [x for x, ok in zip(wide, close, strict=True) if ok]
        local = c.local_alpha is not None
        young = is_young(c, history=t - origin, watched=b - a)
        flagged = trend_math.evaluate(
            now=t,
            start=origin,
            near=near,
            wide=wide,
            config=c,
            rise_alpha=trend_math.radius_rise_level(c, local=local, young=young),
        )
        if flagged is None and local:
            found = trend_math.local_rise(
                scores=sims - c.density_weight * state.density[a:b],
                times=times,
                customers=_Customers(customers),
                now=t,
                customer=int(customer),
                config=c,
            )
            if found is None:
                return None
            _, _, rows, detail = found
            members = [int(state.pks[a + i]) for i in rows] + [message]
            total = np.vstack([state.vectors[[a + i for i in rows]], vector]).sum(axis=0)
            return Flag(trend_math.Reason.VOLUME_RISE, detail, members, _unit(total))
        if flagged is None:
            return None
        reason, span, detail = flagged
        inside = [x for x in near if x.time > t - span]
        index = {int(state.pks[a + i]): a + i for i in keep.tolist()}
        rows = [index[x.message] for x in inside if x.message != message]
        total = np.vstack([state.vectors[rows], vector]).sum(axis=0)
        return Flag(reason, detail, [x.message for x in inside], _unit(total))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)
