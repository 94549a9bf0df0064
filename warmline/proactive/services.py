"""Trends as a care team uses them: topics, flags, problem reports, fixes and outreach.

Every function takes the workspace (and the acting member where a person acts)
explicitly and filters by it; another workspace's id is ``NotFound``. The maths
is in ``topics.py`` (encoder, labels) and ``trends.py`` (the detection rule);
here it meets the database:

* :func:`assign_message` files one inbound customer message under a topic and
  runs the detection rule on its neighbourhood. It is called by a background
  task that the ``message_ingested`` signal enqueues — never on the ingest path.
* lifecycle: :func:`acknowledge`, :func:`dismiss`, :func:`record_fix`;
* topic edits: :func:`rename_topic`, :func:`merge_topics`, :func:`split_topic`;
* :func:`problem_report` / :func:`report_markdown`, :func:`fix_comparison`;
* outreach: :func:`preview_outreach`, :func:`create_outreach`, :func:`send_outreach`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from warmline.conversations import services as conversations
from warmline.conversations.models import Conversation, EntryKind, TimelineEntry
from warmline.customers.models import Customer
from warmline.errors import Conflict, InvalidInput, NotFound
from warmline.tenancy.models import Department, Member, Role, Workspace
from warmline.tenancy.services import notify

from . import live
from . import topics as topic_math
from . import trends as trend_math
from .models import (
    Outreach,
    OutreachRecipient,
    RoutingRule,
    Topic,
    TopicMessage,
    Trend,
    TrendConversation,
    TrendSettings,
    TrendState,
)

OPEN = (TrendState.EMERGING, TrendState.CONFIRMED, TrendState.ACKNOWLEDGED)
LABEL_REFRESH_EVERY = 10  # messages between label/representative refreshes of a topic


# --- settings ------------------------------------------------------------------------


def get_settings(workspace: Workspace) -> TrendSettings:
    """The workspace's thresholds (an unsaved row with the product defaults if none)."""
    found = TrendSettings.objects.filter(workspace=workspace).first()
    return found or TrendSettings(workspace=workspace)


SETTING_FIELDS = (
    "enabled",
    "new_topic_min_customers",
    "new_topic_window_hours",
    "rise_ratio",
    "rise_min_count",
    "rise_alpha",
    "confirm_min_customers",
    "assign_threshold",
    "proactive_cap_days",
    "warmup_days",
)


def update_settings(*, workspace: Workspace, actor: Member, changes: dict) -> TrendSettings:
    _require_lead(actor)
    settings = get_settings(workspace)
    for name, value in changes.items():
        if name not in SETTING_FIELDS:
            raise InvalidInput(f"Unknown setting '{name}'.", field=name)
        if name == "rise_alpha" and not (0 < value < 1):
            raise InvalidInput("rise_alpha must be between 0 and 1.", field=name)
        if name == "new_topic_min_customers" and value < 2:
            raise InvalidInput("At least 2 customers make a trend.", field=name)
        setattr(settings, name, value)
    settings.save()
    return settings


def detector_config(settings: TrendSettings) -> trend_math.TrendConfig:
    return trend_math.TrendConfig(
        new_topic_min_customers=settings.new_topic_min_customers,
        new_topic_window=settings.new_topic_window_hours * trend_math.HOUR,
        warmup=settings.warmup_days * trend_math.DAY,
        rise_ratio=settings.rise_ratio,
        rise_min_count=settings.rise_min_count,
        rise_alpha=settings.rise_alpha,
        confirm_min_customers=settings.confirm_min_customers,
    )


def _require_lead(actor: Member) -> None:
    from warmline.errors import PolicyDenied

    if not actor.is_lead:
        raise PolicyDenied(_("Only team leads and admins can do this."))


# --- vectors -------------------------------------------------------------------------


def _vec(raw: bytes | memoryview, dims: int) -> np.ndarray:
    data = bytes(raw)
    if len(data) != dims * 4:
        return np.zeros(dims, dtype=np.float32)
    return np.frombuffer(data, dtype=np.float32).copy()


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def message_text(entry: TimelineEntry) -> str:
    """What the customer wrote about: the subject of an opener counts too."""
    return f"{entry.subject}\n{entry.text}".strip() if entry.subject else entry.text


# --- assignment and detection ---------------------------------------------------------


@dataclass
class Assignment:
    topic: Topic
    created_topic: bool
    trend: Trend | None
    flagged: bool


def assign_message(*, workspace: Workspace, entry_id: int) -> Assignment | None:
    """File one customer message under a topic and check its neighbourhood for a trend.

    Idempotent per message (the signal fires again after deferred analysis).
    Returns None for entries that are not customer messages or were already filed.
    """
    entry = (
        TimelineEntry.objects.filter(
            workspace=workspace, pk=entry_id, kind=EntryKind.CUSTOMER_MESSAGE
        )
        .select_related("conversation")
        .first()
    )
    if entry is None or entry.is_auto_reply or entry.author_customer_id is None:
        return None
    if TopicMessage.objects.filter(workspace=workspace, entry_id=entry.pk).exists():
        return None
    settings = get_settings(workspace)
    if not settings.enabled:
        return None
    text = message_text(entry)
    encoder = topic_math.default_encoder()
    vector = encoder.encode([text])[0]
    threshold = settings.assign_threshold or topic_math.ASSIGN_THRESHOLD
    with transaction.atomic():
        topics = list(
            Topic.objects.select_for_update().filter(
                workspace=workspace, status=Topic.Status.ACTIVE
            )
        )
        topic, similarity, created = None, 0.0, False
        if topics and vector.any():
            centroids = np.stack([_unit(_vec(t.vector_sum, encoder.dims)) for t in topics])
            sims = centroids @ vector
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                topic, similarity = topics[best], float(sims[best])
        if topic is None:
            topic = Topic.objects.create(
                workspace=workspace,
                vector_sum=vector.astype(np.float32).tobytes(),
                first_seen_at=entry.occurred_at,
                last_seen_at=entry.occurred_at,
            )
            created, similarity = True, 1.0
        else:
            total = _vec(topic.vector_sum, encoder.dims) + vector
            topic.vector_sum = total.astype(np.float32).tobytes()
        try:
            with transaction.atomic():
                filed = TopicMessage.objects.create(
                    workspace=workspace,
                    topic=topic,
                    entry=entry,
                    conversation_id=entry.conversation_id,
                    customer_id=entry.author_customer_id,
                    channel=entry.channel,
                    occurred_at=entry.occurred_at,
                    vector=vector.astype(np.float32).tobytes(),
                    similarity=similarity,
                )
        except IntegrityError:  # a concurrent worker filed it first
            return None
        topic.message_count = (0 if created else topic.message_count) + 1
        topic.first_seen_at = min(filter(None, [topic.first_seen_at, entry.occurred_at]))
        topic.last_seen_at = max(filter(None, [topic.last_seen_at, entry.occurred_at]))
        topic.save()
        if topic.message_count <= 5 or topic.message_count % LABEL_REFRESH_EVERY == 0:
            refresh_topic(topic)
        trend, flagged = _detect(workspace, settings, topic, entry, vector, filed.pk)
    return Assignment(topic=topic, created_topic=created, trend=trend, flagged=flagged)


def _detect(
    workspace: Workspace,
    settings: TrendSettings,
    topic: Topic,
    entry: TimelineEntry,
    vector: np.ndarray,
    message_id: int,
) -> tuple[Trend | None, bool]:
    """Join an open trend, or run the detection rule on the message's neighbourhood."""
    config = detector_config(settings)
    dims = len(vector)
    for trend in Trend.objects.filter(workspace=workspace, state__in=OPEN).order_by("id"):
        tv = _vec(trend.vector, dims)
        if trend.topic_id == topic.pk or float(tv @ vector) >= config.follow_similarity:
            _follow(trend, entry, config)
            return trend, False
    now = entry.occurred_at
    first = (
        TopicMessage.objects.filter(workspace=workspace)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if first is None or (now - first).total_seconds() < config.warmup:
        return None, False
    # The replay's decision on the workspace's whole watched period (see live.py).
    found = live.check(
        workspace_id=workspace.pk,
        message=message_id,
        customer=entry.author_customer_id,
        now=now,
        start=first,
        vector=vector,
        config=config,
    )
    if found is None:
        return None, False
    members = list(
        TopicMessage.objects.filter(workspace=workspace, pk__in=found.members).values_list(
            "pk", "entry_id", "customer_id", "occurred_at"
        )
    )
    trend = _flag(workspace, topic, entry, found.reason, found.detail, members, found.centroid)
    return trend, True


def _flag(
    workspace: Workspace,
    topic: Topic,
    entry: TimelineEntry,
    reason: str,
    detail: dict,
    members: list[tuple],
    centroid: np.ndarray,
) -> Trend:
    """Open a trend of ``members`` (TopicMessage id, entry, customer, time)."""
    times = [r[3] for r in members]
    trend = Trend.objects.create(
        workspace=workspace,
        topic=topic,
        reason=str(reason),
        detail={**detail, "at_entry": entry.pk},
        flagged_at=entry.occurred_at,
        first_seen_at=min(times),
        last_seen_at=max(times),
        customer_count=len({r[2] for r in members}),
        message_count=len(members),
        vector=_unit(centroid).astype(np.float32).tobytes(),
    )
    rule = suggest_owner(workspace=workspace, trend=trend)
    if rule is not None:
        trend.department, trend.owning_team, trend.routing_rule = (
            rule.department,
            rule.team,
            rule,
        )
        trend.save(update_fields=["department", "owning_team", "routing_rule"])
    entry_ids = [r[1] for r in members]
    for conv_id, customer_id in (
        TimelineEntry.objects.filter(workspace=workspace, pk__in=entry_ids)
        .values_list("conversation_id", "author_customer_id")
        .distinct()
    ):
        _mark_conversation(trend, conv_id, customer_id)
    text = _("New trend: %(label)s — %(n)s customers") % {
        "label": topic.display_name,
        "n": trend.customer_count,
    }
    for lead in Member.objects.filter(
        workspace=workspace, role__in=[Role.LEAD, Role.ADMIN], is_active=True
    ):
        notify(member=lead, kind="trend", text=text, link=f"/trends/{trend.pk}/")
    return trend


def _mark_conversation(trend: Trend, conversation_id: int, customer_id: int | None) -> None:
    if customer_id is None:
        return
    _link, created = TrendConversation.objects.get_or_create(
        workspace_id=trend.workspace_id,
        trend=trend,
        conversation_id=conversation_id,
        defaults={"customer_id": customer_id},
    )
    if created:
        conv = Conversation.objects.get(pk=conversation_id)
        conversations.add_system_entry(
            conversation=conv,
            kind=EntryKind.SYSTEM,
            text=_("Part of trend: %(label)s") % {"label": trend.topic.display_name},
            data={"trend": trend.pk},
        )


def _follow(trend: Trend, entry: TimelineEntry, config: trend_math.TrendConfig) -> None:
    _mark_conversation(trend, entry.conversation_id, entry.author_customer_id)
    trend.message_count += 1
    trend.last_seen_at = max(trend.last_seen_at, entry.occurred_at)
    trend.customer_count = (
        TrendConversation.objects.filter(trend=trend).values("customer_id").distinct().count()
    )
    fields = ["message_count", "last_seen_at", "customer_count"]
    if trend.state == TrendState.EMERGING and trend.customer_count >= config.confirm_min_customers:
        trend.state = TrendState.CONFIRMED
        trend.confirmed_at = entry.occurred_at
        fields += ["state", "confirmed_at"]
    trend.save(update_fields=fields)


# --- topics -------------------------------------------------------------------------


def get_topic(*, workspace: Workspace, topic_id: Any) -> Topic:
    topic = Topic.objects.filter(workspace=workspace, pk=topic_id).first()
    if topic is None:
        raise NotFound(_("Topic not found."))
    return topic


def list_topics(*, workspace: Workspace) -> QuerySet[Topic]:
    return Topic.objects.filter(workspace=workspace, status=Topic.Status.ACTIVE).order_by(
        "-last_seen_at", "-id"
    )


def _member_rows(topic: Topic) -> list[tuple[int, np.ndarray, str]]:
    dims = topic_math.default_encoder().dims
    rows = TopicMessage.objects.filter(workspace_id=topic.workspace_id, topic=topic).values_list(
        "entry_id", "vector", "entry__text"
    )
    return [(e, _vec(v, dims), t) for e, v, t in rows]


def refresh_topic(topic: Topic, rows: list | None = None) -> Topic:
    """Recompute the readable label (top terms), representatives and counters."""
    rows = rows if rows is not None else _member_rows(topic)
    if not rows:
        topic.label, topic.representatives, topic.message_count = "", [], 0
        topic.save(update_fields=["label", "representatives", "message_count"])
        return topic
    vectors = np.stack([r[1] for r in rows])
    total = vectors.sum(axis=0)
    centroid = _unit(total)
    order = np.argsort(-(vectors @ centroid), kind="stable")[: topic_math.REPRESENTATIVES]
    topic.representatives = [rows[i][0] for i in order]
    topic.label = " / ".join(top_terms([r[2] for r in rows]))[:200]
    topic.vector_sum = total.astype(np.float32).tobytes()
    topic.message_count = len(rows)
    topic.save(update_fields=["label", "representatives", "vector_sum", "message_count"])
    return topic


def top_terms(texts: list[str], n: int = topic_math.LABEL_TERMS) -> list[str]:
    """Frequent in the topic and rare in general (count × the encoder's idf)."""
    counts = Counter(t for text in texts for t in set(topic_math.label_tokens(text)))
    word = topic_math.default_encoder().word
    vocab, idf = word.vocabulary_, word.idf_
    top_idf = float(idf.max()) if len(idf) else 1.0

    def score(term: str) -> float:
        i = vocab.get(term)
        return counts[term] * (float(idf[i]) if i is not None else top_idf)

    return sorted(counts, key=lambda t: (-score(t), t))[:n]


def rename_topic(*, workspace: Workspace, actor: Member, topic_id: Any, name: str) -> Topic:
    topic = get_topic(workspace=workspace, topic_id=topic_id)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("A topic name cannot be empty."), field="name")
    if len(name) > 200:
        raise InvalidInput(_("A topic name has at most 200 characters."), field="name")
    topic.name = name
    topic.save(update_fields=["name", "updated_at"])
    return topic


def merge_topics(*, workspace: Workspace, actor: Member, keep_id: Any, absorb_id: Any) -> Topic:
    """Move every message (and trend) of one topic into another; the absorbed one is kept
    as ``merged`` so links to it still resolve."""
    keep = get_topic(workspace=workspace, topic_id=keep_id)
    absorb = get_topic(workspace=workspace, topic_id=absorb_id)
    if keep.pk == absorb.pk:
        raise InvalidInput(_("A topic cannot be merged into itself."), field="absorb_id")
    if absorb.status != Topic.Status.ACTIVE or keep.status != Topic.Status.ACTIVE:
        raise Conflict(_("Only active topics can be merged."))
    with transaction.atomic():
        TopicMessage.objects.filter(workspace=workspace, topic=absorb).update(topic=keep)
        Trend.objects.filter(workspace=workspace, topic=absorb).update(topic=keep)
        seen = [t for t in (keep.first_seen_at, absorb.first_seen_at) if t]
        last = [t for t in (keep.last_seen_at, absorb.last_seen_at) if t]
        keep.first_seen_at = min(seen) if seen else None
        keep.last_seen_at = max(last) if last else None
        keep.save(update_fields=["first_seen_at", "last_seen_at"])
        refresh_topic(keep)
        absorb.status, absorb.merged_into = Topic.Status.MERGED, keep
        absorb.message_count, absorb.vector_sum = 0, b""
        absorb.save(update_fields=["status", "merged_into", "message_count", "vector_sum"])
    return keep


def split_topic(
    *, workspace: Workspace, actor: Member, topic_id: Any, parts: int = 2
) -> list[Topic]:
    """k-means inside one topic; the largest part keeps the topic (and its name)."""
    from sklearn.cluster import KMeans

    topic = get_topic(workspace=workspace, topic_id=topic_id)
    if not 2 <= parts <= 10:
        raise InvalidInput(_("Split into 2 to 10 parts."), field="parts")
    rows = list(
        TopicMessage.objects.filter(workspace=workspace, topic=topic).values_list(
            "pk", "vector", "occurred_at"
        )
    )
    if len(rows) < parts:
        raise InvalidInput(
            _("This topic has fewer than %(n)s messages.") % {"n": parts}, field="parts"
        )
    dims = topic_math.default_encoder().dims
    vectors = np.stack([_vec(r[1], dims) for r in rows])
    labels = KMeans(parts, n_init=3, random_state=0).fit_predict(vectors)
    order = np.argsort(-np.bincount(labels, minlength=parts), kind="stable")
    result = [topic]
    with transaction.atomic():
        for part in order[1:]:
            idx = np.flatnonzero(labels == part)
            if not len(idx):
                continue
            times = [rows[i][2] for i in idx]
            new = Topic.objects.create(
                workspace=workspace, first_seen_at=min(times), last_seen_at=max(times)
            )
            TopicMessage.objects.filter(
                workspace=workspace, pk__in=[rows[i][0] for i in idx]
            ).update(topic=new)
            refresh_topic(new)
            result.append(new)
        keep = np.flatnonzero(labels == order[0])
        times = [rows[i][2] for i in keep]
        topic.first_seen_at, topic.last_seen_at = min(times), max(times)
        topic.save(update_fields=["first_seen_at", "last_seen_at"])
        refresh_topic(topic)
    return result


# --- trends and lifecycle --------------------------------------------------------------


def get_trend(*, workspace: Workspace, trend_id: Any) -> Trend:
    trend = Trend.objects.filter(workspace=workspace, pk=trend_id).select_related("topic").first()
    if trend is None:
        raise NotFound(_("Trend not found."))
    return trend


def list_trends(*, workspace: Workspace, state: str | None = None) -> QuerySet[Trend]:
    qs = Trend.objects.filter(workspace=workspace).select_related("topic")
    if state:
        if state not in TrendState.values:
            raise InvalidInput(f"Unknown state '{state}'.", field="state")
        qs = qs.filter(state=state)
    return qs.order_by("-flagged_at", "-id")


def _move(trend: Trend, target: str) -> None:
    try:
        trend_math.next_state(trend_math.TrendState(trend.state), trend_math.TrendState(target))
    except trend_math.InvalidTransition as exc:
        raise Conflict(str(exc)) from exc
    trend.state = target


def confirm(*, workspace: Workspace, actor: Member, trend_id: Any) -> Trend:
    trend = get_trend(workspace=workspace, trend_id=trend_id)
    _move(trend, TrendState.CONFIRMED)
    trend.confirmed_at = timezone.now()
    trend.save(update_fields=["state", "confirmed_at", "updated_at"])
    return trend


def acknowledge(*, workspace: Workspace, actor: Member, trend_id: Any) -> Trend:
    trend = get_trend(workspace=workspace, trend_id=trend_id)
    _move(trend, TrendState.ACKNOWLEDGED)
    trend.acknowledged_at, trend.acknowledged_by = timezone.now(), actor
    trend.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "updated_at"])
    return trend


def dismiss(*, workspace: Workspace, actor: Member, trend_id: Any, reason: str = "") -> Trend:
    trend = get_trend(workspace=workspace, trend_id=trend_id)
    _move(trend, TrendState.DISMISSED)
    trend.closed_at, trend.dismissed_reason = timezone.now(), (reason or "")[:300]
    trend.save(update_fields=["state", "closed_at", "dismissed_reason", "updated_at"])
    return trend


def record_fix(
    *,
    workspace: Workspace,
    actor: Member,
    trend_id: Any,
    summary: str,
    fixed_at: dt.datetime | None = None,
) -> Trend:
    """What was fixed, when, by whom; the trend must have been acknowledged first."""
    trend = get_trend(workspace=workspace, trend_id=trend_id)
    if not (summary or "").strip():
        raise InvalidInput(_("Say what was fixed."), field="summary")
    fixed_at = fixed_at or timezone.now()
    if timezone.is_naive(fixed_at):
        raise InvalidInput(_("fixed_at needs a time zone."), field="fixed_at")
    _move(trend, TrendState.FIXED)
    trend.fix_summary, trend.fixed_at, trend.fixed_by = summary.strip(), fixed_at, actor
    trend.closed_at = timezone.now()
    trend.save(
        update_fields=["state", "fix_summary", "fixed_at", "fixed_by", "closed_at", "updated_at"]
    )
    return trend


# --- routing ------------------------------------------------------------------------


def rule_matches(rule: RoutingRule, *, text: str, names: list[str], channels: set[str]) -> bool:
    """Every kind of criterion the rule sets must match (any keyword, intent or channel
    within a kind); a rule with no criteria never matches."""
    checks = []
    if rule.keywords:
        lowered = text.lower()
        checks.append(any(str(k).lower() in lowered for k in rule.keywords if str(k).strip()))
    if rule.intents:
        wanted = {str(i).strip().lower() for i in rule.intents}
        checks.append(any(n.strip().lower() in wanted for n in names if n))
    if rule.channels:
        checks.append(bool(set(rule.channels) & channels))
    return bool(checks) and all(checks)


def suggest_owner(*, workspace: Workspace, trend: Trend) -> RoutingRule | None:
    """The first active rule (by position) that matches the trend's messages and topic."""
    rules = list(RoutingRule.objects.filter(workspace=workspace, is_active=True))
    if not rules:
        return None
    entry_ids = _trend_entry_ids(trend)
    entries = TimelineEntry.objects.filter(workspace=workspace, pk__in=entry_ids)
    text = " ".join([trend.topic.label, trend.topic.name, *entries.values_list("text", flat=True)])
    channels = set(entries.values_list("channel", flat=True))
    names = [trend.topic.name, trend.topic.label]
    for rule in rules:
        if rule_matches(rule, text=text, names=names, channels=channels):
            return rule
    return None


def save_rule(
    *, workspace: Workspace, actor: Member, data: dict, rule_id: Any = None
) -> RoutingRule:
    _require_lead(actor)
    rule = (
        RoutingRule(workspace=workspace)
        if rule_id is None
        else RoutingRule.objects.filter(workspace=workspace, pk=rule_id).first()
    )
    if rule is None:
        raise NotFound(_("Routing rule not found."))
    for name in ("name", "department", "keywords", "intents", "channels", "position", "is_active"):
        if name in data and data[name] is not None:
            setattr(rule, name, data[name])
    if "team_id" in data:
        from warmline.tenancy.models import Team

        team = None
        if data["team_id"] is not None:
            team = Team.objects.filter(workspace=workspace, pk=data["team_id"]).first()
            if team is None:
                raise InvalidInput(_("Unknown team."), field="team_id")
        rule.team = team
    if rule.department not in Department.values:
        raise InvalidInput(f"Unknown department '{rule.department}'.", field="department")
    if not (rule.name or "").strip():
        raise InvalidInput(_("A rule needs a name."), field="name")
    for name in ("keywords", "intents", "channels"):
        value = getattr(rule, name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{name} must be a list of strings.", field=name)
    rule.save()
    return rule


# --- problem report -------------------------------------------------------------------


def _trend_entry_ids(trend: Trend) -> list[int]:
    """The trend's messages: its topic's messages since the trend's first contact."""
    return list(
        TopicMessage.objects.filter(
            workspace_id=trend.workspace_id,
            topic_id=trend.topic_id,
            occurred_at__gte=trend.first_seen_at,
        ).values_list("entry_id", flat=True)
    )


def problem_report(*, workspace: Workspace, trend_id: Any) -> dict:
    """Everything a lead needs to route the problem: size, who, where, how they feel."""
    trend = get_trend(workspace=workspace, trend_id=trend_id)
    messages = list(
        TopicMessage.objects.filter(
            workspace=workspace, topic_id=trend.topic_id, occurred_at__gte=trend.first_seen_at
        ).values_list("entry_id", "customer_id", "channel", "occurred_at", "vector")
    )
    affected = set(
        TrendConversation.objects.filter(trend=trend).values_list("customer_id", flat=True)
    )
    customer_ids = affected | {m[1] for m in messages}
    customers = list(
        Customer.objects.filter(workspace=workspace, pk__in=customer_ids).values(
            "id", "name", "tier", "lifetime_value"
        )
    )
    by_day: dict[str, int] = defaultdict(int)
    for m in messages:
        by_day[m[3].date().isoformat()] += 1
    entries = {
        e.pk: e
        for e in TimelineEntry.objects.filter(workspace=workspace, pk__in=[m[0] for m in messages])
    }
    sentiments = [e.sentiment for e in entries.values() if e.sentiment is not None]
    dims = topic_math.default_encoder().dims
    representatives: list[dict] = []
    if messages:
        vectors = np.stack([_vec(m[4], dims) for m in messages])
        centre = _unit(_vec(trend.vector, dims))
        if not centre.any():
            centre = _unit(vectors.sum(axis=0))
        for i in np.argsort(-(vectors @ centre), kind="stable")[:5]:
            e = entries.get(messages[i][0])
            if e is not None:
                representatives.append(
                    {
                        "entry_id": e.pk,
                        "conversation_id": e.conversation_id,
                        "text": e.text[:500],
                        "channel": e.channel,
                        "at": e.occurred_at.isoformat(),
                    }
                )
    tiers = Counter(c["tier"] for c in customers)
    total_ltv = sum((c["lifetime_value"] for c in customers), Decimal("0"))
    negative = [s for s in sentiments if s < -0.05]
    rule = trend.routing_rule
    return {
        "trend": trend.pk,
        "topic": {"id": trend.topic_id, "label": trend.topic.label, "name": trend.topic.name},
        "title": trend.topic.display_name,
        "state": trend.state,
        "reason": trend.reason,
        "detail": {k: v for k, v in trend.detail.items() if k != "at_entry"},
        "flagged_at": trend.flagged_at.isoformat(),
        "first_seen": min((m[3] for m in messages), default=trend.first_seen_at).isoformat(),
        "last_seen": max((m[3] for m in messages), default=trend.last_seen_at).isoformat(),
        "volume": {
            "messages": len(messages),
            "by_day": [{"day": d, "messages": n} for d, n in sorted(by_day.items())],
        },
        "customers": {
            "count": len(customers),
            "by_tier": dict(sorted(tiers.items())),
            "lifetime_value_total": str(total_ltv),
            "currency": workspace.currency,
            "top": [
                {
                    "id": c["id"],
                    "name": c["name"],
                    "tier": c["tier"],
                    "lifetime_value": str(c["lifetime_value"]),
                }
                for c in sorted(customers, key=lambda c: (-c["lifetime_value"], c["id"]))[:10]
            ],
        },
        "channels": dict(sorted(Counter(m[2] or "unknown" for m in messages).items())),
        "sentiment": {
            "mean": round(sum(sentiments) / len(sentiments), 3) if sentiments else None,
            "negative_share": round(len(negative) / len(sentiments), 3) if sentiments else None,
            "rated_messages": len(sentiments),
        },
        "representative_messages": representatives,
        "suggested_owner": {
            "department": trend.department or None,
            "team_id": trend.owning_team_id,
            "rule": rule.name if rule else None,
        },
        "fix": {
            "summary": trend.fix_summary,
            "fixed_at": trend.fixed_at.isoformat() if trend.fixed_at else None,
            "fixed_by": trend.fixed_by_id,
        },
    }


def report_markdown(report: dict) -> str:
    """The report as Markdown, for a ticket in the owning team's tracker."""
    lines = [
        f"# {_('Problem report')}: {report['title']}",
        "",
        f"- **{_('State')}**: {report['state']} ({report['reason']})",
        f"- **{_('First seen')}**: {report['first_seen']}",
        f"- **{_('Last seen')}**: {report['last_seen']}",
        f"- **{_('Messages')}**: {report['volume']['messages']}",
        f"- **{_('Customers affected')}**: {report['customers']['count']}"
        f" ({_('lifetime value')} {report['customers']['lifetime_value_total']}"
        f" {report['customers']['currency']})",
    ]
    owner = report["suggested_owner"]
    if owner["department"]:
        lines.append(
            f"- **{_('Suggested owner')}**: {owner['department']}"
            + (f" ({_('rule')}: {owner['rule']})" if owner["rule"] else "")
        )
    sentiment = report["sentiment"]
    if sentiment["mean"] is not None:
        lines.append(
            f"- **{_('Sentiment')}**: {_('mean')} {sentiment['mean']}, "
            f"{round(100 * sentiment['negative_share'])}% {_('negative')}"
        )
    lines += [
        "",
        f"## {_('Volume over time')}",
        "",
        f"| {_('Day')} | {_('Messages')} |",
        "|---|---:|",
    ]
    lines += [f"| {d['day']} | {d['messages']} |" for d in report["volume"]["by_day"]]
    lines += ["", f"## {_('Customers by tier')}", ""]
    lines += [f"- {tier}: {n}" for tier, n in report["customers"]["by_tier"].items()]
    lines += ["", f"## {_('Channels')}", ""]
    lines += [f"- {channel}: {n}" for channel, n in report["channels"].items()]
    lines += ["", f"## {_('Representative messages')}", ""]
    for m in report["representative_messages"]:
        text = " ".join(m["text"].split())
        lines.append(f"> {text}\n>\n> — {m['channel']}, {m['at']}\n")
    if report["fix"]["summary"]:
        lines += ["", f"## {_('Fix')}", "", report["fix"]["summary"], ""]
        lines.append(f"{_('Fixed at')}: {report['fix']['fixed_at']}")
    return "\n".join(lines).rstrip() + "\n"


# --- fix verification -------------------------------------------------------------------


def fix_comparison(
    *, workspace: Workspace, trend_id: Any, days: int = 7, now: dt.datetime | None = None
) -> dict:
    """Contacts per day and sentiment in the ``days`` before the fix and after it.

    ``went_away`` is true when the after-rate is at most a quarter of the before-rate
    and a one-sided binomial test says the drop is not chance (p ≤ 0.05); ``too_early``
    while less than a day has passed since the fix.
    """
    trend = get_trend(workspace=workspace, trend_id=trend_id)
    if trend.fixed_at is None:
        raise Conflict(_("No fix has been recorded for this trend."))
    now = now or timezone.now()
    span = dt.timedelta(days=days)
    before_from, fixed = trend.fixed_at - span, trend.fixed_at
    after_to = min(now, fixed + span)
    qs = TopicMessage.objects.filter(workspace=workspace, topic_id=trend.topic_id)

    def period(lo: dt.datetime, hi: dt.datetime) -> dict:
        rows = list(
            qs.filter(occurred_at__gte=lo, occurred_at__lt=hi).values_list(
                "customer_id", "entry__sentiment"
            )
        )
        length = max((hi - lo).total_seconds() / 86400, 0.0)
        scores = [s for _c, s in rows if s is not None]
        return {
            "from": lo.isoformat(),
            "to": hi.isoformat(),
            "days": round(length, 2),
            "messages": len(rows),
            "customers": len({c for c, _s in rows}),
            "per_day": round(len(rows) / length, 3) if length else None,
            "sentiment": round(sum(scores) / len(scores), 3) if scores else None,
        }

    before, after = period(before_from, fixed), period(fixed, after_to)
    too_early = (after_to - fixed) < dt.timedelta(days=1)
    went_away = False
    p_value = None
    if not too_early and before["messages"]:
        from scipy.stats import binom

        total = before["messages"] + after["messages"]
        q = after["days"] / (after["days"] + before["days"])
        p_value = float(binom.cdf(after["messages"], total, q))
        rate_ok = (after["per_day"] or 0.0) <= 0.25 * (before["per_day"] or 0.0)
        went_away = rate_ok and p_value <= 0.05
    return {
        "trend": trend.pk,
        "fixed_at": fixed.isoformat(),
        "before": before,
        "after": after,
        "too_early": too_early,
        "went_away": went_away,
        "p_value": p_value,
    }


# --- proactive outreach ---------------------------------------------------------------


def opted_out(customer: Customer, channel: str) -> bool:
    """Opt-outs live in the customer's preferences (``opt_out`` / ``proactive_opt_out`` for
    everything proactive, ``opt_out_channels`` for a list of channels) or in the care app's
    opt-out table."""
    prefs = customer.preferences if isinstance(customer.preferences, dict) else {}
    if prefs.get("opt_out") or prefs.get("proactive_opt_out"):
        return True
    if channel in (prefs.get("opt_out_channels") or []):
        return True
    # Opt-outs recorded by care playbooks (their own table) hold for trend outreach too;
    # read through the registry so trends work with or without the care app.
    from django.apps import apps

    try:
        table = apps.get_model("care", "OptOut")
    except LookupError:
        return False
    return table.objects.filter(
        workspace_id=customer.workspace_id,
        customer_id=customer.pk,
        channel__in=[channel, "all"],
    ).exists()


def _recently_contacted(
    workspace: Workspace, customer_id: int, cap_days: int, now: dt.datetime
) -> bool:
    if not cap_days:
        return False
    return OutreachRecipient.objects.filter(
        workspace=workspace,
        customer_id=customer_id,
        status=OutreachRecipient.Status.SENT,
        sent_at__gte=now - dt.timedelta(days=cap_days),
    ).exists()


def _recipient_plan(
    workspace: Workspace, trend: Trend, now: dt.datetime
) -> list[tuple[Customer, Conversation | None, str, str, str]]:
    """(customer, conversation, channel, status, detail) for every affected customer."""
    cap_days = get_settings(workspace).proactive_cap_days
    links = (
        TrendConversation.objects.filter(trend=trend)
        .select_related("customer", "conversation")
        .order_by("customer_id", "-conversation__last_activity_at")
    )
    plan, seen = [], set()
    for link in links:
        customer = link.customer
        if customer.pk in seen:
            continue
        seen.add(customer.pk)
        conv = link.conversation
        channel = customer.preferred_channel or conv.last_channel or conv.channel or ""
        if opted_out(customer, channel):
            status, detail = OutreachRecipient.Status.OPTED_OUT, _("The customer opted out.")
        elif _recently_contacted(workspace, customer.pk, cap_days, now):
            status = OutreachRecipient.Status.CAPPED
            detail = _("Contacted proactively in the last %(n)s days.") % {"n": cap_days}
        elif not channel:
            status, detail = OutreachRecipient.Status.NO_CHANNEL, _("No channel to reach them.")
        else:
            status, detail = OutreachRecipient.Status.PENDING, ""
        plan.append((customer, conv, channel, status, detail))
    return plan


def render_template(template: str, *, customer: Customer, trend: Trend) -> str:
    """``{name}``, ``{topic}`` and ``{fix}`` are filled in; other braces stay as written."""
    values = {
        "name": customer.name or _("there"),
        "topic": trend.topic.display_name,
        "fix": trend.fix_summary,
    }

    class Safe(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        return template.format_map(Safe(values))
    except (ValueError, IndexError) as exc:
        raise InvalidInput(_("The template has a broken placeholder."), field="template") from exc


def preview_outreach(*, workspace: Workspace, trend_id: Any, template: str = "") -> dict:
    trend = get_trend(workspace=workspace, trend_id=trend_id)
    plan = _recipient_plan(workspace, trend, timezone.now())
    return {
        "trend": trend.pk,
        "recipients": [
            {
                "customer_id": c.pk,
                "name": c.name,
                "channel": channel,
                "status": status,
                "detail": detail,
                "message": render_template(template, customer=c, trend=trend)
                if template and status == OutreachRecipient.Status.PENDING
                else "",
            }
            for c, _conv, channel, status, detail in plan
        ],
        "will_send": sum(1 for p in plan if p[3] == OutreachRecipient.Status.PENDING),
        "skipped": sum(1 for p in plan if p[3] != OutreachRecipient.Status.PENDING),
    }


def create_outreach(
    *, workspace: Workspace, actor: Member, trend_id: Any, template: str
) -> Outreach:
    """Record the outreach and every recipient (or why they are skipped), then queue it."""
    _require_lead(actor)
    trend = get_trend(workspace=workspace, trend_id=trend_id)
    if not (template or "").strip():
        raise InvalidInput(_("The message is empty."), field="template")
    render_template(template, customer=Customer(name="x"), trend=trend)  # validates braces
    now = timezone.now()
    with transaction.atomic():
        outreach = Outreach.objects.create(
            workspace=workspace,
            trend=trend,
            template=template.strip(),
            status=Outreach.Status.QUEUED,
            created_by=actor,
            queued_at=now,
        )
        OutreachRecipient.objects.bulk_create(
            [
                OutreachRecipient(
                    workspace=workspace,
                    outreach=outreach,
                    customer=c,
                    conversation=conv,
                    channel=channel,
                    status=status,
                    detail=detail,
                )
                for c, conv, channel, status, detail in _recipient_plan(workspace, trend, now)
            ]
        )
    from .tasks import send_outreach_task

    transaction.on_commit(lambda: send_outreach_task(outreach.pk))
    return outreach


def send_outreach(*, outreach_id: int, now: dt.datetime | None = None) -> dict:
    """Send every pending recipient (background task) through the one outbound ``send()``
    path (outbox, retries, delivery status on the timeline). Opt-outs and the frequency
    cap are checked again at send time: a customer may have opted out since the preview."""
    outreach = Outreach.objects.select_related("trend", "trend__topic", "workspace").get(
        pk=outreach_id
    )
    workspace = outreach.workspace
    cap_days = get_settings(workspace).proactive_cap_days
    counts: Counter = Counter()
    pending = OutreachRecipient.objects.filter(
        outreach=outreach, status=OutreachRecipient.Status.PENDING
    ).values_list("pk", flat=True)
    for recipient_id in list(pending):
        with transaction.atomic():
            r = (
                OutreachRecipient.objects.select_for_update(of=("self",))
                .select_related("customer", "conversation")
                .get(pk=recipient_id)
            )
            if r.status != OutreachRecipient.Status.PENDING:
                continue
            when = now or timezone.now()
            Customer.objects.select_for_update().filter(pk=r.customer_id).first()
            if opted_out(r.customer, r.channel):
                r.status, r.detail = (
                    OutreachRecipient.Status.OPTED_OUT,
                    _("The customer opted out."),
                )
            elif _recently_contacted(workspace, r.customer_id, cap_days, when):
                r.status = OutreachRecipient.Status.CAPPED
                r.detail = _("Contacted proactively in the last %(n)s days.") % {"n": cap_days}
            elif r.conversation is None:
                r.status, r.detail = OutreachRecipient.Status.FAILED, _("Conversation is gone.")
            else:
                from warmline.channels.outbound import send

                message = send(
                    workspace=workspace,
                    actor=None,
                    conversation=r.conversation,
                    channel=r.channel,
                    text=render_template(
                        outreach.template, customer=r.customer, trend=outreach.trend
                    ),
                    kind=EntryKind.ASSISTANT_REPLY,
                    idempotency_key=f"trend-outreach-{r.pk}",
                    payload={"trend": outreach.trend_id, "outreach": outreach.pk},
                )
                r.entry_id = message.entry_id
                if message.status == "failed":
                    r.status, r.detail = OutreachRecipient.Status.FAILED, message.last_error[:300]
                else:
                    r.status, r.sent_at = OutreachRecipient.Status.SENT, when
            r.save(update_fields=["status", "detail", "sent_at", "entry_id"])
            counts[r.status] += 1
    outreach.status, outreach.finished_at = Outreach.Status.SENT, timezone.now()
    outreach.save(update_fields=["status", "finished_at"])
    return dict(counts)
