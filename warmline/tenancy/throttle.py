"""Login throttling per account and per client address.

Repeated failures first slow down (each further try must wait an exponentially
growing delay) and then lock for a while. Lives in the authentication backend
so the sign-in page and the admin share it.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied


class LoginThrottled(PermissionDenied):
    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed sign-ins. Try again in {retry_after} s.")
        self.retry_after = retry_after


def _key(kind: str, value: str) -> str:
    return "login-fail:" + kind + ":" + hashlib.sha256(value.lower().encode()).hexdigest()[:32]


def client_ip(request) -> str:
    if request is None:
        return ""
    return request.META.get("REMOTE_ADDR", "") or ""


def _keys(request, username: str | None) -> list[str]:
    keys = []
    if username:
        keys.append(_key("user", username))
    ip = client_ip(request)
    if ip:
        keys.append(_key("ip", ip))
    return keys


def retry_after(request, username: str | None) -> int:
    """Seconds the caller must still wait, 0 when a try is allowed now."""
    soft, hard = settings.WARMLINE_LOGIN_SOFT_LIMIT, settings.WARMLINE_LOGIN_HARD_LIMIT
    now = time.time()
    wait = 0.0
    for key in _keys(request, username):
        state = cache.get(key)
        if not state:
            continue
        failures, last = state
        if failures >= hard:
            wait = max(wait, last + settings.WARMLINE_LOGIN_LOCK_SECONDS - now)
        elif failures >= soft:
            wait = max(wait, last + 2 ** (failures - soft + 1) - now)
    return max(0, int(wait + 0.999))


def record_failure(request, username: str | None) -> None:
    for key in _keys(request, username):
        failures, _ = cache.get(key) or (0, 0.0)
        cache.set(key, (failures + 1, time.time()), settings.WARMLINE_LOGIN_LOCK_SECONDS)


def reset(request, username: str | None) -> None:
    if username:
        cache.delete(_key("user", username))


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get("email")
        wait = retry_after(request, username)
        if wait:
            raise LoginThrottled(wait)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            record_failure(request, username)
        else:
            reset(request, username)
        return user
