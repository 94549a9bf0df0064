"""Topics, trends, problem reports, fixes and outreach over the API (thin: services act)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from ninja import Field, Router, Schema

from warmline.schemas import ErrorOut

from . import services

router = Router(tags=["trends"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _ws(request):
    return request.member.workspace


class TopicOut(Schema):
    id: int
    label: str
    name: str
    display_name: str
    status: str
    merged_into_id: int | None
    message_count: int
    first_seen_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    representatives: list[int]


class TopicPatch(Schema):
    name: str = Field(..., max_length=200)


class MergeIn(Schema):
    absorb_id: int


class SplitIn(Schema):
    parts: int = Field(2, ge=2, le=10)


class TrendOut(Schema):
    id: int
    topic_id: int
    topic: str
    state: str
    reason: str
    detail: dict
    flagged_at: dt.datetime
    confirmed_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    customer_count: int
    message_count: int
    department: str
    owning_team_id: int | None
    fix_summary: str
    fixed_at: dt.datetime | None
    fixed_by_id: int | None
    dismissed_reason: str

    @staticmethod
    def resolve_topic(obj) -> str:
        return obj.topic.display_name


class DismissIn(Schema):
    reason: str = Field("", max_length=300)


class FixIn(Schema):
    summary: str = Field(..., max_length=5000)
    fixed_at: dt.datetime | None = None


class OutreachIn(Schema):
    template: str = Field(..., max_length=5000)


class OutreachOut(Schema):
    id: int
    trend_id: int
    template: str
    status: str
    queued_at: dt.datetime | None
    finished_at: dt.datetime | None
    recipients: list[dict]

    @staticmethod
    def resolve_recipients(obj) -> list[dict]:
        return list(
            obj.recipients.order_by("customer_id").values(
                "customer_id", "channel", "status", "detail", "sent_at", "entry_id"
            )
        )


class RuleIn(Schema):
    name: str | None = Field(None, max_length=120)
    department: str | None = None
    team_id: int | None = None
    keywords: list[str] | None = None
    intents: list[str] | None = None
    channels: list[str] | None = None
    position: int | None = Field(None, ge=0, le=10_000)
    is_active: bool | None = None


class RuleOut(Schema):
    id: int
    name: str
    department: str
    team_id: int | None
    keywords: list[str]
    intents: list[str]
    channels: list[str]
    position: int
    is_active: bool


class SettingsOut(Schema):
    enabled: bool
    new_topic_min_customers: int
    new_topic_window_hours: int
    rise_ratio: float
    rise_min_count: int
    rise_alpha: float
    confirm_min_customers: int
    assign_threshold: float | None
    proactive_cap_days: int
    warmup_days: int


class SettingsPatch(Schema):
    enabled: bool | None = None
    new_topic_min_customers: int | None = Field(None, ge=2, le=1000)
    new_topic_window_hours: int | None = Field(None, ge=1, le=24 * 14)
    rise_ratio: float | None = Field(None, ge=1, le=100)
    rise_min_count: int | None = Field(None, ge=2, le=1000)
    rise_alpha: float | None = Field(None, gt=0, lt=1)
    confirm_min_customers: int | None = Field(None, ge=2, le=10_000)
    assign_threshold: float | None = Field(None, gt=0, lt=1)
    proactive_cap_days: int | None = Field(None, ge=0, le=365)
    warmup_days: int | None = Field(None, ge=0, le=90)


# --- topics ---------------------------------------------------------------------------


@router.get("/topics", response=list[TopicOut])
def list_topics(request, limit: int = 200):
    return list(services.list_topics(workspace=_ws(request))[: max(1, min(limit, 1000))])


@router.get("/topics/{topic_id}", response={200: TopicOut, **ERRORS})
def read_topic(request, topic_id: int):
    return services.get_topic(workspace=_ws(request), topic_id=topic_id)


@router.patch("/topics/{topic_id}", response={200: TopicOut, **ERRORS})
def rename_topic(request, topic_id: int, payload: TopicPatch):
    return services.rename_topic(
        workspace=_ws(request), actor=request.member, topic_id=topic_id, name=payload.name
    )


@router.post("/topics/{topic_id}/merge", response={200: TopicOut, **ERRORS})
def merge_topic(request, topic_id: int, payload: MergeIn):
    return services.merge_topics(
        workspace=_ws(request), actor=request.member, keep_id=topic_id, absorb_id=payload.absorb_id
    )


@router.post("/topics/{topic_id}/split", response={200: list[TopicOut], **ERRORS})
def split_topic(request, topic_id: int, payload: SplitIn):
    return services.split_topic(
        workspace=_ws(request), actor=request.member, topic_id=topic_id, parts=payload.parts
    )


# --- trends ---------------------------------------------------------------------------


@router.get("/trends", response={200: list[TrendOut], **ERRORS})
def list_trends(request, state: str | None = None, limit: int = 100):
    qs = services.list_trends(workspace=_ws(request), state=state)
    return list(qs[: max(1, min(limit, 1000))])


@router.get("/trends/{trend_id}", response={200: TrendOut, **ERRORS})
def read_trend(request, trend_id: int):
    return services.get_trend(workspace=_ws(request), trend_id=trend_id)


@router.post("/trends/{trend_id}/confirm", response={200: TrendOut, **ERRORS})
def confirm_trend(request, trend_id: int):
    return services.confirm(workspace=_ws(request), actor=request.member, trend_id=trend_id)


@router.post("/trends/{trend_id}/acknowledge", response={200: TrendOut, **ERRORS})
def acknowledge_trend(request, trend_id: int):
    return services.acknowledge(workspace=_ws(request), actor=request.member, trend_id=trend_id)


@router.post("/trends/{trend_id}/dismiss", response={200: TrendOut, **ERRORS})
def dismiss_trend(request, trend_id: int, payload: DismissIn):
    return services.dismiss(
        workspace=_ws(request), actor=request.member, trend_id=trend_id, reason=payload.reason
    )


@router.post("/trends/{trend_id}/fix", response={200: TrendOut, **ERRORS})
def record_fix(request, trend_id: int, payload: FixIn):
    return services.record_fix(
        workspace=_ws(request),
        actor=request.member,
        trend_id=trend_id,
        summary=payload.summary,
        fixed_at=payload.fixed_at,
    )


@router.get("/trends/{trend_id}/report", response={200: dict, **ERRORS})
def problem_report(request, trend_id: int, format: str = "json"):
    """The problem report; ``?format=markdown`` answers text/markdown for a tracker."""
    report = services.problem_report(workspace=_ws(request), trend_id=trend_id)
    if format == "markdown":
        return HttpResponse(
            services.report_markdown(report), content_type="text/markdown; charset=utf-8"
        )
    if format != "json":
        from warmline.errors import InvalidInput

        raise InvalidInput("format is 'json' or 'markdown'.", field="format")
    return report


@router.get("/trends/{trend_id}/fix-comparison", response={200: dict, **ERRORS})
def fix_comparison(request, trend_id: int, days: int = 7):
    return services.fix_comparison(
        workspace=_ws(request), trend_id=trend_id, days=max(1, min(days, 90))
    )


@router.post("/trends/{trend_id}/outreach/preview", response={200: dict, **ERRORS})
def preview_outreach(request, trend_id: int, payload: OutreachIn):
    return services.preview_outreach(
        workspace=_ws(request), trend_id=trend_id, template=payload.template
    )


@router.post("/trends/{trend_id}/outreach", response={201: OutreachOut, **ERRORS})
def create_outreach(request, trend_id: int, payload: OutreachIn):
    outreach = services.create_outreach(
        workspace=_ws(request), actor=request.member, trend_id=trend_id, template=payload.template
    )
    outreach.refresh_from_db()
    return 201, outreach


@router.get("/trends/{trend_id}/outreach", response={200: list[OutreachOut], **ERRORS})
def list_outreach(request, trend_id: int):
    trend = services.get_trend(workspace=_ws(request), trend_id=trend_id)
    return list(trend.outreach.order_by("-id"))


# --- routing rules and settings ------------------------------------------------------------


@router.get("/trend-routing-rules", response=list[RuleOut])
def list_rules(request):
    from .models import RoutingRule

    return list(RoutingRule.objects.filter(workspace=_ws(request)))


@router.post("/trend-routing-rules", response={201: RuleOut, **ERRORS})
def create_rule(request, payload: RuleIn):
    rule = services.save_rule(
        workspace=_ws(request), actor=request.member, data=payload.dict(exclude_unset=True)
    )
    return 201, rule


@router.patch("/trend-routing-rules/{rule_id}", response={200: RuleOut, **ERRORS})
def update_rule(request, rule_id: int, payload: RuleIn):
    return services.save_rule(
        workspace=_ws(request),
        actor=request.member,
        data=payload.dict(exclude_unset=True),
        rule_id=rule_id,
    )


@router.get("/trend-settings", response=SettingsOut)
def read_settings(request):
    return services.get_settings(_ws(request))


@router.patch("/trend-settings", response={200: SettingsOut, **ERRORS})
def update_settings(request, payload: SettingsPatch):
    return services.update_settings(
        workspace=_ws(request), actor=request.member, changes=payload.dict(exclude_unset=True)
    )
