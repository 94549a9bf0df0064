"""Empowered actions, approvals and authority over HTTP (thin: validate, call services)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Router, Schema, Status

from warmline.errors import InvalidInput
from warmline.schemas import ErrorOut

from . import services
from .catalogue import CATALOGUE
from .models import ActionStatus, ApprovalRequest, AuthorityProfile, EmpoweredAction

router = Router(tags=["actions"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class CatalogueItemOut(Schema):
    code: str
    label: str
    description: str
    takes_order: bool
    gives_money: bool
    params_schema: dict


class ActionIn(Schema):
    conversation_id: int
    action: str = Field(min_length=1, max_length=40)
    params: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str = Field(min_length=1, max_length=200)


class ApprovalBrief(Schema):
    id: int
    status: str
    reason: str
    expires_at: dt.datetime


class ActionOut(Schema):
    id: int
    action: str
    status: str
    conversation_id: int
    customer_id: int
    order_id: int | None
    params: dict
    amount: str | None
    currency: str
    idempotency_key: str
    within_authority: bool
    connector: str
    result: dict
    error: str
    rule: str
    response_code: int | None
    attempts: int
    requested_by_id: int | None
    created_at: dt.datetime
    executed_at: dt.datetime | None
    approval: ApprovalBrief | None
    replayed: bool = False


class ApprovalOut(Schema):
    id: int
    status: str
    reason: str
    expires_at: dt.datetime
    requested_by_id: int | None
    decided_by_id: int | None
    decided_at: dt.datetime | None
    note: str
    created_at: dt.datetime
    action: ActionOut


class DecisionIn(Schema):
    note: str = Field("", max_length=500)


class AuthorityOut(Schema):
    member_id: int
    role: str
    source: str
    currency: str
    limits: dict[str, str | None]
    daily_cap: str | None
    day: dt.date
    used_today: str
    actions_today: int
    remaining_today: str | None


class ProfileIn(Schema):
    role: Literal["agent", "lead", "admin", ""] = ""
    member_id: int | None = None
    limits: dict[str, str | float | int | None]
    daily_cap: str | float | int | None = None


class ProfilePatch(Schema):
    limits: dict[str, str | float | int | None] | None = None
    daily_cap: str | float | int | None = None


class ProfileOut(Schema):
    id: int
    role: str
    member_id: int | None
    limits: dict[str, str | None]
    daily_cap: str | None
    updated_at: dt.datetime


def _action_out(action: EmpoweredAction, *, replayed: bool = False) -> dict[str, Any]:
    approval = getattr(action, "approval", None) if _has_approval(action) else None
    return {
        "id": action.pk,
        "action": action.code,
        "status": action.status,
        "conversation_id": action.conversation_id,
        "customer_id": action.customer_id,
        "order_id": action.order_id,
        "params": action.params,
        "amount": str(action.amount) if action.amount is not None else None,
        "currency": action.currency,
        "idempotency_key": action.idempotency_key,
        "within_authority": action.within_authority,
        "connector": action.connector,
        "result": action.result,
        "error": action.error,
        "rule": action.rule,
        "response_code": action.response_code,
        "attempts": action.attempts,
        "requested_by_id": action.requested_by_id,
        "created_at": action.created_at,
        "executed_at": action.executed_at,
        "approval": (
            {
                "id": approval.pk,
                "status": approval.status,
                "reason": approval.reason,
                "expires_at": approval.expires_at,
            }
            if approval is not None
            else None
        ),
        "replayed": replayed,
    }


def _has_approval(action: EmpoweredAction) -> bool:
    try:
        action.approval  # noqa: B018 - the reverse one-to-one raises when absent
    except ApprovalRequest.DoesNotExist:
        return False
    return True


def _approval_out(approval: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": approval.pk,
        "status": approval.status,
        "reason": approval.reason,
        "expires_at": approval.expires_at,
        "requested_by_id": approval.requested_by_id,
        "decided_by_id": approval.decided_by_id,
        "decided_at": approval.decided_at,
        "note": approval.note,
        "created_at": approval.created_at,
        "action": _action_out(approval.action),
    }


def _profile_out(p: AuthorityProfile) -> dict[str, Any]:
    return {
        "id": p.pk,
        "role": p.role,
        "member_id": p.member_id,
        "limits": p.limits,
        "daily_cap": str(p.daily_cap) if p.daily_cap is not None else None,
        "updated_at": p.updated_at,
    }


@router.get("/actions/catalogue", response=list[CatalogueItemOut])
def catalogue(request):
    """Every action an agent can take, with the JSON schema of its parameters."""
    return [
        {
            "code": s.code,
            "label": s.label,
            "description": s.description,
            "takes_order": s.takes_order,
            "gives_money": s.money is not None,
            "params_schema": s.schema(),
        }
        for s in CATALOGUE.values()
    ]


@router.post("/actions", response={201: ActionOut, 202: ActionOut, **ERRORS})
def post_action(request, payload: ActionIn):
    """201: executed (or sent to the webhook); 202: waiting for a lead's approval.

    The same idempotency key returns the first request's action (``replayed: true``)
    and never executes it again.
    """
    result = services.request_action(
        member=request.member,
        conversation_id=payload.conversation_id,
        action=payload.action,
        params=payload.params,
        idempotency_key=payload.idempotency_key,
    )
    action = result.action
    code = 202 if action.status == ActionStatus.PENDING_APPROVAL else 201
    return Status(code, _action_out(action, replayed=not result.created))


@router.get("/actions", response={200: list[ActionOut], **ERRORS})
def list_actions(request, conversation_id: int | None = None, limit: int = 100):
    actions = services.list_actions(
        member=request.member, conversation_id=conversation_id, limit=max(1, min(limit, 500))
    )
    return [_action_out(a) for a in actions]


@router.get("/actions/{action_id}", response={200: ActionOut, **ERRORS})
def read_action(request, action_id: int):
    return _action_out(services.get_action(member=request.member, action_id=action_id))


@router.get("/approvals", response={200: list[ApprovalOut], **ERRORS})
def list_approvals(
    request, status: Literal["pending", "approved", "denied", "expired"] | None = None
):
    return [_approval_out(a) for a in services.list_approvals(member=request.member, status=status)]


@router.get("/approvals/{approval_id}", response={200: ApprovalOut, **ERRORS})
def read_approval(request, approval_id: int):
    return _approval_out(services.get_approval(member=request.member, approval_id=approval_id))


def _note(request) -> str:
    """The optional note of a one-click decision: a JSON ``{"note": …}``, a form field, or none.

    Declared in OpenAPI through ``DecisionIn`` but read leniently, so a bare POST (a button)
    works without a body or content type.
    """
    if request.content_type == "application/json" and request.body:
        try:
            data = DecisionIn.model_validate_json(request.body)
        except ValueError:
            raise InvalidInput("note: at most 500 characters of text.", field="note") from None
        return data.note
    note = request.POST.get("note", "") if request.method == "POST" else ""
    if len(note) > 500:
        raise InvalidInput("note: at most 500 characters of text.", field="note")
    return note


DECISION_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": DecisionIn.model_json_schema()}},
    }
}


@router.post(
    "/approvals/{approval_id}/approve",
    response={200: ApprovalOut, **ERRORS},
    openapi_extra=DECISION_BODY,
)
def approve(request, approval_id: int):
    """One click: execute the waiting action (leads and admins; never one's own request)."""
    approval = services.approve(member=request.member, approval_id=approval_id, note=_note(request))
    return _approval_out(approval)


@router.post(
    "/approvals/{approval_id}/deny",
    response={200: ApprovalOut, **ERRORS},
    openapi_extra=DECISION_BODY,
)
def deny(request, approval_id: int):
    approval = services.deny(member=request.member, approval_id=approval_id, note=_note(request))
    return _approval_out(approval)


@router.get("/authority", response=AuthorityOut)
def my_authority(request):
    """My limits and what I have used today (the workspace's local day)."""
    return services.authority_summary(request.member)


@router.get("/authority/profiles", response={200: list[ProfileOut], **ERRORS})
def list_profiles(request):
    return [_profile_out(p) for p in services.list_profiles(member=request.member)]


@router.post("/authority/profiles", response={201: ProfileOut, **ERRORS})
def create_profile(request, payload: ProfileIn):
    profile = services.create_profile(
        actor=request.member,
        role=payload.role,
        member_id=payload.member_id,
        limits=payload.limits,
        daily_cap=payload.daily_cap,
    )
    return Status(201, _profile_out(profile))


@router.get("/authority/profiles/{profile_id}", response={200: ProfileOut, **ERRORS})
def read_profile(request, profile_id: int):
    return _profile_out(services.get_profile(member=request.member, profile_id=profile_id))


@router.patch("/authority/profiles/{profile_id}", response={200: ProfileOut, **ERRORS})
def update_profile(request, profile_id: int, payload: ProfilePatch):
    profile = services.update_profile(
        actor=request.member,
        profile_id=profile_id,
        changes=payload.model_dump(exclude_unset=True),
    )
    return _profile_out(profile)


@router.delete("/authority/profiles/{profile_id}", response={204: None, **ERRORS})
def delete_profile(request, profile_id: int):
    services.delete_profile(actor=request.member, profile_id=profile_id)
    return Status(204, None)
