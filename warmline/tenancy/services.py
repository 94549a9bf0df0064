"""Workspace, membership, token and audit use cases."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from warmline.errors import Conflict, InvalidInput, NotFound

from .models import ApiToken, AuditEntry, Member, Notification, Role, Team, Workspace

TOKEN_PREFIX = "wl_"  # noqa: S105 - a public marker, not a secret


def create_workspace(*, name: str, slug: str, time_zone: str = "UTC", **fields: Any) -> Workspace:
    if Workspace.objects.filter(slug=slug).exists():
        raise Conflict(f"A workspace with slug '{slug}' already exists.", field="slug")
    return Workspace.objects.create(name=name, slug=slug, time_zone=time_zone, **fields)


def get_workspace(slug: str) -> Workspace:
    try:
        return Workspace.objects.get(slug=slug)
    except Workspace.DoesNotExist:
        raise NotFound(f"No workspace '{slug}'.") from None


@transaction.atomic
def create_member(
    *,
    workspace: Workspace,
    email: str,
    role: str = Role.AGENT,
    password: str | None = None,
    display_name: str = "",
    languages: list[str] | None = None,
    skills: list[str] | None = None,
    actor: Member | None = None,
) -> Member:
    """Create (or reuse) the user for ``email`` and make them a member of ``workspace``."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role '{role}'.", field="role")
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput("Not an email address.", field="email")
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=email, defaults={"email": email, "first_name": display_name.split(" ")[0]}
    )
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    elif created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if Member.objects.filter(workspace=workspace, user=user).exists():
        raise Conflict(f"{email} is already a member of {workspace.slug}.", field="email")
    member = Member.objects.create(
        workspace=workspace,
        user=user,
        role=role,
        display_name=display_name or email.split("@")[0],
        languages=languages or list(workspace.languages),
        skills=skills or [],
    )
    record_audit(
        workspace=workspace,
        actor=actor,
        action="member.create",
        obj=member,
        after={"email": email, "role": role},
    )
    return member


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(*, member: Member, name: str = "default") -> tuple[ApiToken, str]:
    """Return the token row and the secret; the secret is never stored or shown again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        workspace=member.workspace,
        member=member,
        name=name,
        prefix=secret[:10],
        token_hash=_hash(secret),
    )
    record_audit(
        workspace=member.workspace,
        actor=member,
        action="token.issue",
        obj=token,
        after={"name": name},
    )
    return token, secret


def _token_key(digest: str) -> str:
    return "wl-token:" + digest


def member_for_token(secret: str) -> Member | None:
    """The active member a bearer token belongs to, or None.

    A hit is cached for ``WARMLINE_TOKEN_CACHE_SECONDS`` (a fresh copy each time, so
    no request sees another's changes): the join it saves is a sixth of the cost of
    ingesting a message (bench/ingest.py). Revoking a token, or saving its member,
    user or workspace, forgets the entry at once (``forget_tokens``); a change made
    with a bare queryset ``update()`` takes effect when the entry expires.
    """
    if not secret.startswith(TOKEN_PREFIX):
        return None
    digest = _hash(secret)
    ttl = settings.WARMLINE_TOKEN_CACHE_SECONDS
    if ttl:
        member = cache.get(_token_key(digest))
        if member is not None:
            return member
    token = (
        ApiToken.objects.select_related("member__workspace", "member__user")
        .filter(token_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.member.is_active or not token.member.user.is_active:
        return None
    now = timezone.now()
    # Touch at most once a minute so hot API clients don't turn every read into a write.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    if ttl:
        cache.set(_token_key(digest), token.member, ttl)
    return token.member


def forget_token_hash(digest: str) -> None:
    cache.delete(_token_key(digest))


def forget_tokens(
    *,
    token_ids: list[int] | None = None,
    member_ids: list[int] | None = None,
    workspace_id: int | None = None,
    user_id: int | None = None,
) -> None:
    """Drop cached token lookups so a revocation or a change applies to the next request."""
    qs = ApiToken.objects.all()
    if token_ids is not None:
        qs = qs.filter(pk__in=token_ids)
    if member_ids is not None:
        qs = qs.filter(member_id__in=member_ids)
    if workspace_id is not None:
        qs = qs.filter(workspace_id=workspace_id)
    if user_id is not None:
        qs = qs.filter(member__user_id=user_id)
    keys = [_token_key(h) for h in qs.values_list("token_hash", flat=True)]
    if keys:
        cache.delete_many(keys)


def revoke_token(*, member: Member, token_id: int) -> None:
    updated = ApiToken.objects.filter(
        workspace=member.workspace, pk=token_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound("No such token.")
    forget_tokens(token_ids=[token_id])


def memberships_for_user(user) -> list[Member]:
    return list(
        Member.objects.filter(user=user, is_active=True)
        .select_related("workspace")
        .order_by("workspace__name")
    )


def get_member(*, workspace: Workspace, member_id: int) -> Member:
    try:
        return Member.objects.select_related("user").get(workspace=workspace, pk=member_id)
    except Member.DoesNotExist:
        raise NotFound("No such member.", field="member_id") from None


def get_team(*, workspace: Workspace, team_id: int) -> Team:
    try:
        return Team.objects.get(workspace=workspace, pk=team_id)
    except Team.DoesNotExist:
        raise NotFound("No such team.", field="team_id") from None


def record_audit(
    *,
    workspace: Workspace,
    actor: Member | None,
    action: str,
    obj: Any = None,
    object_type: str | None = None,
    object_id: Any = None,
    before: Any = None,
    after: Any = None,
    ip_address: str | None = None,
) -> AuditEntry:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id if object_id is not None else obj.pk
    return AuditEntry.objects.create(
        workspace=workspace,
        actor=actor,
        actor_label=str(actor) if actor else "system",
        action=action,
        object_type=object_type or "",
        object_id=str(object_id or ""),
        before=before,
        after=after,
        ip_address=ip_address,
    )


# --- Notifications ------------------------------------------------------------------


def notify(*, member: Member, kind: str, text: str, link: str = "") -> Notification:
    """Tell one member about something; the workspace is the member's own."""
    return Notification.objects.create(
        workspace_id=member.workspace_id, member=member, kind=kind, text=text[:500], link=link
    )


def mark_read(*, member: Member, notification_ids: list[int] | None = None) -> int:
    """Mark the member's notifications read (all unread ones when no ids are given)."""
    qs = Notification.objects.filter(
        workspace_id=member.workspace_id, member=member, read_at__isnull=True
    )
    if notification_ids is not None:
        qs = qs.filter(pk__in=notification_ids)
    return qs.update(read_at=timezone.now())
