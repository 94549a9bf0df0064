"""Who is asking: the signed-in member of the chosen workspace, in their language and zone.

Every workspace page goes through ``member_view``: it resolves the membership
(404 for anything outside it), then renders in the member's interface language
and the workspace's time zone, restoring both afterwards.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation

from warmline.tenancy.models import Member
from warmline.tenancy.services import memberships_for_user

SUPPORTED = {code for code, _ in settings.LANGUAGES}


def current_member(request: HttpRequest) -> Member | None:
    memberships = memberships_for_user(request.user)
    request.memberships = memberships
    wanted = request.session.get("workspace_id")
    for m in memberships:
        if m.workspace_id == wanted:
            return m
    return memberships[0] if memberships else None


def member_language(member: Member) -> str:
    code = (member.locale or "").split("-")[0].lower()
    return code if code in SUPPORTED else settings.LANGUAGE_CODE


def workspace_zone(member: Member) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(member.workspace.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def member_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        member = current_member(request)
        if member is None:
            return render(request, "web/no_workspace.html", status=403)
        request.member = member
        language = member_language(member)
        with translation.override(language), timezone.override(workspace_zone(member)):
            request.LANGUAGE_CODE = language
            response = view(request, *args, **kwargs)
            response.headers.setdefault("Content-Language", language)
            return response

    return wrapper
