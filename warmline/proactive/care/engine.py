"""Playbook evaluation: who a playbook's trigger fires for now, and whether to reach out.

Evaluation is set-based (one or two queries per trigger, one per gate) so that a dry
run and the scheduled run share the same code and scale to a whole workspace. It never
writes: ``services.run_playbook`` turns the decisions into claimed ``Outreach`` rows.

Every trigger yields a *trigger key* naming the one occurrence it reacts to (this
event, this resolved conversation, this lapse, this year's birthday). The key is part
of the unique claim, so the same occurrence is acted on at most once per playbook.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import Count, Max
from django.utils.translation import gettext as _

from warmline.conversations.models import ACTIVE_STATUSES, Conversation, Status
from warmline.customers.models import (
    Customer,
    CustomerEvent,
    Identity,
    IdentityKind,
    Order,
    OrderStatus,
)
from warmline.tenancy.models import Workspace

from .models import (
    OPT_OUT_ALL,
    CareSettings,
    CustomerHealth,
    HealthSnapshot,
    OptOut,
    Outreach,
    PendingTrigger,
    Playbook,
    TriggerKind,
)

# A trigger stays eligible this long after the moment it names, so a run deferred by
# quiet hours or an open conversation (or a worker that was down) still catches it.
LOOKBACK = dt.timedelta(days=3)
DEFAULT_INACTIVITY_FACTOR = 2.0
DEFAULT_DROP_POINTS = 15.0
DEFAULT_DROP_DAYS = 7
IN_CHUNK = 5000

# Which identity reaches the customer on each channel, and the order to fall back in.
CHANNEL_IDENTITY = {
    "email": IdentityKind.EMAIL,
    "sms": IdentityKind.PHONE,
    "whatsapp": IdentityKind.PHONE,
    "voice": IdentityKind.PHONE,
    "chat": IdentityKind.CHAT,
    "social": IdentityKind.SOCIAL,
}
FALLBACK_CHANNELS = ("email", "sms", "whatsapp")


class Verdict:
    CONTACT = "contact"  # send the message (and run the other actions)
    INTERNAL = "internal"  # no message: owner-side actions only
    DEFER = "defer"  # not now (quiet hours, open conversation); tried again next run
    SKIP = "skip"  # the customer is not messaged for this trigger (opt-out, cap)


@dataclass(frozen=True)
class Candidate:
    customer_id: int
    key: str
    reason: str


@dataclass
class Decision:
    customer_id: int
    key: str
    reason: str
    verdict: str
    note: str = ""
    channel: str = ""
    customer: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    playbook: Playbook
    decisions: list[Decision]
    triggered: int
    out_of_segment: int
    already_done: int

    def by_verdict(self, verdict: str) -> list[Decision]:
        return [d for d in self.decisions if d.verdict == verdict]


def care_settings(workspace: Workspace) -> CareSettings:
    found = CareSettings.objects.filter(workspace=workspace).first()
    return found or CareSettings(workspace=workspace)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start : start + IN_CHUNK]


def _in(qs, field: str, ids: Sequence[int] | None):
    return qs if ids is None else qs.filter(**{f"{field}__in": ids})


# --- triggers ------------------------------------------------------------------------


def candidates(
    playbook: Playbook, *, now: dt.datetime, customer_ids: Sequence[int] | None = None
) -> list[Candidate]:
    """The customers this playbook's trigger fires for at ``now``, each with its key."""
    fn = TRIGGERS[playbook.trigger]
    return fn(playbook, now, customer_ids)


def _event(pb: Playbook, now, ids) -> list[Candidate]:
    qs = CustomerEvent.objects.filter(
        workspace_id=pb.workspace_id,
        type=pb.event_type,
        occurred_at__gt=now - LOOKBACK,
        occurred_at__lte=now,
    )
    return [
        Candidate(
            cid, f"event:{pk}", _("%(event)s on %(date)s") % {"event": t, "date": f"{at:%Y-%m-%d}"}
        )
        for pk, cid, t, at in _in(qs, "customer_id", ids).values_list(
            "pk", "customer_id", "type", "occurred_at"
        )
    ]


def _after_resolved(pb: Playbook, now, ids) -> list[Candidate]:
    due = now - dt.timedelta(days=pb.days)
    qs = Conversation.objects.filter(
        workspace_id=pb.workspace_id,
        status__in=(Status.RESOLVED, Status.CLOSED),
        resolved_at__gt=due - LOOKBACK,
        resolved_at__lte=due,
        merged_into__isnull=True,
        customer_message_count__gt=0,
    )
    text = _("conversation #%(number)s resolved %(days)s days ago")
    return [
        Candidate(cid, f"resolved:{pk}", text % {"number": number, "days": (now - at).days})
        for pk, cid, number, at in _in(qs, "customer_id", ids).values_list(
            "pk", "customer_id", "number", "resolved_at"
        )
    ]


def _after_purchase(pb: Playbook, now, ids) -> list[Candidate]:
    due = now - dt.timedelta(days=pb.days)
    qs = Order.objects.filter(
        workspace_id=pb.workspace_id, placed_at__gt=due - LOOKBACK, placed_at__lte=due
    ).exclude(status=OrderStatus.CANCELLED)
    return [
        Candidate(
            cid,
            f"order:{pk}",
            _("order %(order)s placed %(days)s days ago") % {"order": ext, "days": (now - at).days},
        )
        for pk, cid, ext, at in _in(qs, "customer_id", ids).values_list(
            "pk", "customer_id", "external_id", "placed_at"
        )
    ]


def _inactivity(pb: Playbook, now, ids) -> list[Candidate]:
    """Beyond `threshold` usual gaps (default 2) since the last purchase or activity.

    Reads the cadence stored with the health score (recomputed nightly and on change):
    the last active day and the customer's median gap between active days.
    """
    from .scoring import _day

    factor = pb.threshold if pb.threshold is not None else DEFAULT_INACTIVITY_FACTOR
    table = CustomerHealth._meta.db_table
    qs = (
        _in(CustomerHealth.objects.filter(workspace_id=pb.workspace_id), "customer_id", ids)
        .filter(usual_gap_days__gt=0, last_activity_on__isnull=False)
        .annotate(last=_day(f"{table}.last_activity_on"))
        .values_list("customer_id", "last", "usual_gap_days")
    )
    rows = list(qs)
    if not rows:
        return []
    from .scoring import day_offset

    cid = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    last = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)) - day_offset()
    gap = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    days = now.date().toordinal() - last
    lapsed = np.nonzero(days > factor * gap)[0]
    out = []
    text = _("%(days)d days since last activity, usually every %(gap)g days")
    for k in lapsed.tolist():
        last_date = dt.date.fromordinal(int(last[k]))
        out.append(
            Candidate(
                int(cid[k]),
                f"inactive:{last_date:%Y-%m-%d}",
                text % {"days": int(days[k]), "gap": float(gap[k])},
            )
        )
    return out


def _health_below(pb: Playbook, now, ids) -> list[Candidate]:
    """Below the threshold; the key is the last day at or above it, so one contact per dip."""
    threshold = pb.threshold if pb.threshold is not None else 40.0
    low = dict(
        _in(
            CustomerHealth.objects.filter(workspace_id=pb.workspace_id, score__lt=threshold),
            "customer_id",
            ids,
        ).values_list("customer_id", "score")
    )
    if not low:
        return []
    last_good: dict[int, dt.datetime] = {}
    low_ids = sorted(low)
    for chunk in _chunks(low_ids):
        rows = (
            HealthSnapshot.objects.filter(
                workspace_id=pb.workspace_id, customer_id__in=chunk, score__gte=threshold
            )
            .values_list("customer_id")
            .annotate(last=Max("computed_at"))
            .order_by()
        )
        last_good.update(dict(rows))
    out = []
    text = _("health %(score).0f is below %(threshold)g")
    for cid in low_ids:
        good = last_good.get(cid)
        key = f"below:{threshold:g}:{good:%Y-%m-%dT%H:%M}" if good else f"below:{threshold:g}"
        out.append(
            Candidate(
                cid,
                key,
                text % {"score": low[cid], "threshold": threshold},
            )
        )
    return out


def _health_drop(pb: Playbook, now, ids) -> list[Candidate]:
    """Fell by at least `threshold` points (default 15) from the best score of the last
    `days` days (default 7); at most once per ISO week per playbook."""
    drop = pb.threshold if pb.threshold is not None else DEFAULT_DROP_POINTS
    days = pb.days or DEFAULT_DROP_DAYS
    peaks = dict(
        _in(
            HealthSnapshot.objects.filter(
                workspace_id=pb.workspace_id, computed_at__gte=now - dt.timedelta(days=days)
            ),
            "customer_id",
            ids,
        )
        .values_list("customer_id")
        .annotate(peak=Max("score"))
        .order_by()
    )
    if not peaks:
        return []
    year, week, _day = now.isocalendar()
    out = []
    text = _("health fell from %(peak).0f to %(score).0f")
    current = _in(
        CustomerHealth.objects.filter(workspace_id=pb.workspace_id), "customer_id", ids
    ).values_list("customer_id", "score")
    for cid, score in current.iterator(chunk_size=IN_CHUNK):
        peak = peaks.get(cid)
        if peak is not None and peak - score >= drop:
            out.append(
                Candidate(
                    cid,
                    f"drop:{year}-W{week:02d}",
                    text % {"peak": peak, "score": score},
                )
            )
    return out


def _detractor(pb: Playbook, now, ids) -> list[Candidate]:
    from warmline.feedback.models import Answer
    from warmline.feedback.services import is_detractor

    qs = Answer.objects.filter(
        workspace_id=pb.workspace_id, answered_at__gt=now - LOOKBACK, answered_at__lte=now
    )
    low: dict[tuple[int, int], list[str]] = defaultdict(list)
    for survey_id, cid, kind, score in _in(qs, "survey__customer_id", ids).values_list(
        "survey_id", "survey__customer_id", "kind", "score"
    ):
        if is_detractor(kind, score):
            low[(cid, survey_id)].append(f"{kind.upper()} {score}")
    return [
        Candidate(
            cid, f"survey:{sid}", _("detractor answer (%(scores)s)") % {"scores": ", ".join(s)}
        )
        for (cid, sid), s in low.items()
    ]


def customer_zone(workspace_zone: str, attributes: dict, preferences: dict) -> zoneinfo.ZoneInfo:
    """The customer's own time zone (custom attribute or preference `time_zone`), else the
    workspace's; an unknown name falls back rather than failing the run."""
    for name in (
        (attributes or {}).get("time_zone"),
        (preferences or {}).get("time_zone"),
        workspace_zone,
        "UTC",
    ):
        if isinstance(name, str) and name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def _anniversary(value: str, year: int) -> dt.date | None:
    """'YYYY-MM-DD' or 'MM-DD' on `year`; 29 February falls on the 28th in other years."""
    parts = str(value or "").strip().split("-")
    try:
        month, day = (int(parts[-2]), int(parts[-1]))
        try:
            return dt.date(year, month, day)
        except ValueError:
            if (month, day) == (2, 29):
                return dt.date(year, 2, 28)
            return None
    except (ValueError, IndexError):
        return None


def _special_date(pb: Playbook, now, ids) -> list[Candidate]:
    """`days` before the date (0: on the day), in the customer's local calendar."""
    workspace_zone = (
        Workspace.objects.filter(pk=pb.workspace_id).values_list("time_zone", flat=True).first()
        or "UTC"
    )
    label = pb.date_label.strip().lower()
    qs = _in(Customer.objects.filter(workspace_id=pb.workspace_id), "pk", ids).exclude(
        special_dates=[]
    )
    grace = LOOKBACK.days
    out = []
    for cid, dates, attributes, preferences in qs.values_list(
        "pk", "special_dates", "custom_attributes", "preferences"
    ).iterator(chunk_size=IN_CHUNK):
        if not isinstance(dates, list):
            continue
        today = now.astimezone(customer_zone(workspace_zone, attributes, preferences)).date()
        for item in dates:
            if not isinstance(item, dict):
                continue
            name = str(item.get("label") or "date")
            if label and name.strip().lower() != label:
                continue
            for year in (today.year, today.year + 1):
                day = _anniversary(item.get("date", ""), year)
                if day is None:
                    continue
                fire = day - dt.timedelta(days=pb.days)
                if fire <= today < fire + dt.timedelta(days=grace):
                    out.append(
                        Candidate(
                            cid,
                            f"date:{name.lower()}:{day.year}",
                            _("%(label)s on %(date)s") % {"label": name, "date": f"{day:%d %b}"},
                        )
                    )
    return out


def _trend_fixed(pb: Playbook, now, ids) -> list[Candidate]:
    qs = PendingTrigger.objects.filter(
        workspace_id=pb.workspace_id,
        kind=TriggerKind.TREND_FIXED,
        occurred_at__gt=now - LOOKBACK,
        occurred_at__lte=now,
    )
    return [
        Candidate(cid, key, reason)
        for cid, key, reason in _in(qs, "customer_id", ids).values_list(
            "customer_id", "key", "reason"
        )
    ]


TRIGGERS = {
    TriggerKind.EVENT: _event,
    TriggerKind.AFTER_RESOLVED: _after_resolved,
    TriggerKind.AFTER_PURCHASE: _after_purchase,
    TriggerKind.INACTIVITY: _inactivity,
    TriggerKind.HEALTH_BELOW: _health_below,
    TriggerKind.HEALTH_DROP: _health_drop,
    TriggerKind.DETRACTOR: _detractor,
    TriggerKind.SPECIAL_DATE: _special_date,
    TriggerKind.TREND_FIXED: _trend_fixed,
}


# --- conditions and gates --------------------------------------------------------------

CUSTOMER_FIELDS = (
    "pk",
    "name",
    "tier",
    "preferred_language",
    "preferred_channel",
    "lifetime_value",
    "owner_id",
    "custom_attributes",
    "preferences",
)


def _customers(workspace_id: int, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        for row in Customer.objects.filter(workspace_id=workspace_id, pk__in=chunk).values(
            *CUSTOMER_FIELDS
        ):
            out[row["pk"]] = row
    return out


def _tags(workspace_id: int, ids: Sequence[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    for chunk in _chunks(ids):
        for cid, tags in Conversation.objects.filter(
            workspace_id=workspace_id, customer_id__in=chunk
        ).values_list("customer_id", "tags"):
            if isinstance(tags, list):
                out[cid].update(str(t).lower() for t in tags)
    return out


def in_segment(pb: Playbook, customer: dict[str, Any], tags: set[str], owners: set[int]) -> bool:
    """Every condition set on the playbook holds (an empty condition holds for anyone)."""
    if pb.tiers and customer["tier"] not in pb.tiers:
        return False
    if pb.languages:
        lang = (customer["preferred_language"] or "").split("-")[0].lower()
        if lang not in {str(x).lower() for x in pb.languages}:
            return False
    ltv = customer["lifetime_value"] or Decimal("0")
    if pb.ltv_min is not None and ltv < pb.ltv_min:
        return False
    if pb.ltv_max is not None and ltv > pb.ltv_max:
        return False
    if pb.tags:
        own = tags | {str(t).lower() for t in (customer["custom_attributes"] or {}).get("tags", [])}
        if not own & {str(t).lower() for t in pb.tags}:
            return False
    if owners and customer["owner_id"] not in owners:
        return False
    attrs = customer["custom_attributes"] or {}
    for key, wanted in (pb.attributes or {}).items():
        if str(attrs.get(key, "")).lower() != str(wanted).lower():
            return False
    return True


def in_quiet_hours(local: dt.time, start: dt.time, end: dt.time) -> bool:
    """[start, end) in the customer's clock; a window such as 21:00-08:00 wraps midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def evaluate(
    playbook: Playbook,
    *,
    now: dt.datetime,
    customer_ids: Sequence[int] | None = None,
    settings: CareSettings | None = None,
) -> Evaluation:
    """Apply trigger, segment and the attention rules; nothing is written."""
    settings = settings or care_settings(playbook.workspace)
    found = candidates(playbook, now=now, customer_ids=customer_ids)
    # one decision per (customer, key): two events could name the same occurrence
    unique: dict[tuple[int, str], Candidate] = {}
    for cand in found:
        unique.setdefault((cand.customer_id, cand.key), cand)
    ids = sorted({c.customer_id for c in unique.values()})
    if not ids:
        return Evaluation(playbook, [], 0, 0, 0)
    workspace_id = playbook.workspace_id
    customers = _customers(workspace_id, ids)
    tags = _tags(workspace_id, ids) if playbook.tags else {}
    owners = set(playbook.owners.values_list("pk", flat=True))
    done: set[tuple[int, str]] = set()
    for chunk in _chunks(ids):
        done.update(
            Outreach.objects.filter(playbook=playbook, customer_id__in=chunk).values_list(
                "customer_id", "trigger_key"
            )
        )
    in_seg = [
        c
        for c in unique.values()
        if c.customer_id in customers
        and in_segment(playbook, customers[c.customer_id], tags.get(c.customer_id, set()), owners)
    ]
    out_of_segment = len(unique) - len(in_seg)
    todo = [c for c in in_seg if (c.customer_id, c.key) not in done]
    already = len(in_seg) - len(todo)
    todo_ids = sorted({c.customer_id for c in todo})
    gates = _gates(workspace_id, todo_ids, now) if todo_ids else _Gates()
    workspace_zone = playbook.workspace.time_zone
    decisions = []
    for cand in sorted(todo, key=lambda c: (c.customer_id, c.key)):
        cust = customers[cand.customer_id]
        decisions.append(_decide(playbook, cand, cust, gates, settings, workspace_zone, now))
    return Evaluation(playbook, decisions, len(unique), out_of_segment, already)


@dataclass
class _Gates:
    open_conversation: set[int] = field(default_factory=set)
    opt_outs: dict[int, set[str]] = field(default_factory=dict)
    weekly: dict[int, int] = field(default_factory=dict)
    reachable: dict[int, set[str]] = field(default_factory=dict)


def _gates(workspace_id: int, ids: Sequence[int], now: dt.datetime) -> _Gates:
    g = _Gates(opt_outs=defaultdict(set), reachable=defaultdict(set))
    week_ago = now - dt.timedelta(days=7)
    for chunk in _chunks(ids):
        # an outbound case the customer never answered is not "a conversation they have open"
        g.open_conversation.update(
            Conversation.objects.filter(
                workspace_id=workspace_id,
                customer_id__in=chunk,
                status__in=ACTIVE_STATUSES,
                customer_message_count__gt=0,
            ).values_list("customer_id", flat=True)
        )
        for cid, channel in OptOut.objects.filter(
            workspace_id=workspace_id, customer_id__in=chunk
        ).values_list("customer_id", "channel"):
            g.opt_outs[cid].add(channel)
        g.weekly.update(
            Outreach.objects.filter(
                workspace_id=workspace_id,
                customer_id__in=chunk,
                messaged=True,
                contacted_at__gt=week_ago,
                contacted_at__lte=now,
            )
            .values_list("customer_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        for cid, n in other_proactive_sends(workspace_id, chunk, week_ago, now).items():
            g.weekly[cid] = g.weekly.get(cid, 0) + n
        for cid, kind in Identity.objects.filter(
            workspace_id=workspace_id, customer_id__in=chunk
        ).values_list("customer_id", "kind"):
            g.reachable[cid].add(kind)
    return g


def preference_opt_outs(customer: dict[str, Any]) -> set[str]:
    """Opt-outs written into the customer's preferences (by an import, the API or trend
    outreach) count as much as rows in the opt-out table: one customer, one wish."""
    prefs = customer.get("preferences")
    prefs = prefs if isinstance(prefs, dict) else {}
    if prefs.get("opt_out") or prefs.get("proactive_opt_out"):
        return {OPT_OUT_ALL}
    return set(prefs.get("opt_out_channels") or [])


def other_proactive_sends(
    workspace_id: int, ids: Sequence[int], since: dt.datetime, until: dt.datetime
) -> dict[int, int]:
    """Proactive messages sent outside playbooks (trend outreach) count against the same
    weekly cap; read through the app registry so care works with or without them."""
    from django.apps import apps

    try:
        recipient = apps.get_model("proactive", "OutreachRecipient")
    except LookupError:
        return {}
    return dict(
        recipient.objects.filter(
            workspace_id=workspace_id,
            customer_id__in=list(ids),
            sent_at__gt=since,
            sent_at__lte=until,
        )
        .values_list("customer_id")
        .annotate(n=Count("id"))
        .order_by()
    )


def pick_channel(customer: dict[str, Any], reachable: set[str], opted_out: set[str]) -> str:
    """The preferred channel if it reaches the customer and is not opted out, else the
    first fallback that does; '' when none does."""
    if OPT_OUT_ALL in opted_out:
        return ""
    order = [customer.get("preferred_channel") or ""] + list(FALLBACK_CHANNELS)
    for channel in order:
        if not channel or channel in opted_out:
            continue
        if CHANNEL_IDENTITY.get(channel) in reachable:
            return channel
    return ""


def _decide(pb, cand, cust, gates: _Gates, settings, workspace_zone, now) -> Decision:
    d = Decision(cand.customer_id, cand.key, cand.reason, Verdict.CONTACT, customer=cust)
    if cand.customer_id in gates.open_conversation and not pb.allow_open_conversation:
        d.verdict, d.note = Verdict.DEFER, _("has an open conversation")
        return d
    if not pb.messages_customer:
        d.verdict = Verdict.INTERNAL
        return d
    zone = customer_zone(workspace_zone, cust["custom_attributes"], cust["preferences"])
    local = now.astimezone(zone)
    if in_quiet_hours(local.time(), settings.quiet_start, settings.quiet_end):
        d.verdict = Verdict.DEFER
        d.note = _("quiet hours (%(time)s in %(zone)s)") % {
            "time": f"{local:%H:%M}",
            "zone": zone.key,
        }
        return d
    opted = gates.opt_outs.get(cand.customer_id, set()) | preference_opt_outs(cust)
    channel = pick_channel(cust, gates.reachable.get(cand.customer_id, set()), opted)
    if not channel:
        d.verdict = Verdict.SKIP
        d.note = (
            _("opted out of proactive contact") if opted else _("no channel reaches this customer")
        )
        return d
    d.channel = channel
    if gates.weekly.get(cand.customer_id, 0) >= settings.weekly_cap:
        d.verdict = Verdict.SKIP
        d.note = _("weekly cap of %(n)d proactive contacts reached") % {"n": settings.weekly_cap}
        return d
    if opted:
        d.note = _("opted out of %(channels)s; using %(channel)s") % {
            "channels": ", ".join(sorted(opted)),
            "channel": channel,
        }
    return d
