"""API authentication: a member's bearer token, or the signed-in user's session.

Both resolve to one ``Member``; every handler scopes its queries by
``request.member.workspace``.
"""

from __future__ import annotations

from django.conf import settings
from ninja.security import APIKeyCookie, HttpBearer

from warmline.tenancy.models import Member
from warmline.tenancy.services import member_for_token


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str) -> Member | None:
        member = member_for_token(token)
        if member is not None:
            request.member = member
        return member


class SessionMember(APIKeyCookie):
    """The session's current workspace membership (``X-Workspace`` may pick another)."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request, key) -> Member | None:
        user = request.user
        if not user.is_authenticated:
            return None
        memberships = Member.objects.select_related("workspace").filter(user=user, is_active=True)
        slug = request.headers.get("X-Workspace")
        if slug:
            member = memberships.filter(workspace__slug=slug).first()
        else:
            wanted = request.session.get("workspace_id")
            member = memberships.filter(workspace_id=wanted).first() if wanted else None
            if member is None:
                member = memberships.order_by("workspace__name").first()
        if member is not None:
            request.member = member
        return member


AUTH = [BearerToken(), SessionMember()]
