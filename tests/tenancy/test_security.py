import hashlib
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.test import override_settings

from warmline.tenancy.models import ApiToken, AuditEntry, Member
from warmline.tenancy.services import issue_token, member_for_token

from ..factories import MemberFactory


def test_tokens_are_hashed_at_rest_and_shown_once(member):
    token, secret = issue_token(member=member)
    row = ApiToken.objects.get(pk=token.pk)
    assert secret not in (row.token_hash, row.prefix) and len(secret) > 40
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert member_for_token(secret) == member
    assert member_for_token(secret + "x") is None


def test_revoked_tokens_and_inactive_members_are_refused(member):
    token, secret = issue_token(member=member)
    member.is_active = False
    member.save()
    assert member_for_token(secret) is None
    member.is_active = True
    member.save()
    from django.utils import timezone

    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert member_for_token(secret) is None


@override_settings(WARMLINE_TOKEN_CACHE_SECONDS=300)
def test_cached_token_lookups_forget_revocations_and_changes_at_once(member):
    from warmline.tenancy.services import revoke_token

    token, secret = issue_token(member=member)
    assert member_for_token(secret) == member  # now cached
    member.workspace.name = "Renamed"
    member.workspace.save()
    assert member_for_token(secret).workspace.name == "Renamed"
    member.role = "lead"
    member.save()
    assert member_for_token(secret).role == "lead"
    member.user.is_active = False
    member.user.save()
    assert member_for_token(secret) is None
    member.user.is_active = True
    member.user.save()
    assert member_for_token(secret) == member
    revoke_token(member=member, token_id=token.pk)
    assert member_for_token(secret) is None


@override_settings(WARMLINE_TOKEN_CACHE_SECONDS=300)
def test_each_request_gets_its_own_copy_of_a_cached_member(member):
    _, secret = issue_token(member=member)
    first = member_for_token(secret)
    first.role = "admin"  # a handler changing its copy must not leak into the next request
    assert member_for_token(secret).role == "agent"


@override_settings(WARMLINE_LOGIN_SOFT_LIMIT=3, WARMLINE_LOGIN_HARD_LIMIT=5)
def test_repeated_failed_sign_ins_slow_down_then_lock(client, db):
    from django.core.cache import cache

    cache.clear()
    m = MemberFactory()
    email = m.user.username
    for _ in range(3):
        r = client.post("/login/", {"username": email, "password": "wrong"})
        assert r.status_code == 200 and b"Please enter a correct" in r.content
    r = client.post("/login/", {"username": email, "password": "correct horse battery"})
    assert b"Too many failed sign-ins" in r.content  # even the right password waits now
    cache.clear()
    r = client.post("/login/", {"username": email, "password": "correct horse battery"})
    assert r.status_code == 302


@override_settings(WARMLINE_LOGIN_SOFT_LIMIT=100, WARMLINE_LOGIN_HARD_LIMIT=3)
def test_the_lock_applies_per_address_across_accounts(client, db):
    from django.core.cache import cache

    cache.clear()
    for i in range(3):
        client.post("/login/", {"username": f"guess{i}@example.com", "password": "x"})
    m = MemberFactory()
    r = client.post("/login/", {"username": m.user.username, "password": "correct horse battery"})
    assert b"Too many failed sign-ins" in r.content
    cache.clear()


@override_settings(
    WARMLINE_LOGIN_SOFT_LIMIT=100, WARMLINE_LOGIN_HARD_LIMIT=3, WARMLINE_LOGIN_LOCK_SECONDS=900
)
def test_the_lock_applies_per_account_across_addresses(client, db):
    """A password-guessing botnet that changes address each try still locks the account."""
    from django.core.cache import cache

    cache.clear()
    m = MemberFactory()
    for i in range(3):
        client.post(
            "/login/", {"username": m.user.username, "password": "x"}, REMOTE_ADDR=f"10.0.0.{i}"
        )
    r = client.post(
        "/login/",
        {"username": m.user.username, "password": "correct horse battery"},
        REMOTE_ADDR="10.9.9.9",
    )
    assert b"Too many failed sign-ins" in r.content
    # Another account from a fresh address is not affected.
    other = MemberFactory()
    r = client.post(
        "/login/",
        {"username": other.user.username, "password": "correct horse battery"},
        REMOTE_ADDR="10.8.8.8",
    )
    assert r.status_code == 302
    cache.clear()


@override_settings(
    WARMLINE_LOGIN_SOFT_LIMIT=2, WARMLINE_LOGIN_HARD_LIMIT=4, WARMLINE_LOGIN_LOCK_SECONDS=900
)
def test_the_wait_grows_then_becomes_a_lock(db):
    """Delays double after the soft limit; the hard limit locks for the lock period."""
    from django.core.cache import cache
    from django.test import RequestFactory

    from warmline.tenancy import throttle

    cache.clear()
    request = RequestFactory().post("/login/", REMOTE_ADDR="10.1.1.1")
    waits = []
    for _ in range(4):
        throttle.record_failure(request, "victim@example.com")
        waits.append(throttle.retry_after(request, "victim@example.com"))
    assert waits[0] == 0  # one failure: no wait yet
    assert 0 < waits[1] < waits[2] < 900  # slowing down, exponentially
    assert waits[3] > 850  # locked
    cache.clear()


def test_state_changing_pages_need_csrf(db):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    assert c.post("/login/", {"username": "a", "password": "b"}).status_code == 403


def test_admin_is_for_staff_only(client, member):
    client.force_login(member.user)
    assert client.get("/admin/").status_code == 302  # to the admin login
    member.user.is_staff = True
    member.user.save()
    assert client.get("/admin/").status_code == 200


def test_argon2_is_the_production_hasher():
    from warmline import settings

    assert "Argon2PasswordHasher" in [h for h in settings.PASSWORD_HASHERS if "MD5" not in h][0]


def test_server_refuses_the_development_key_outside_development(tmp_path):
    env = {
        "WARMLINE_ENV": "production",
        "PATH": "/usr/bin:/bin",
        "WARMLINE_DATA_DIR": str(tmp_path),
    }
    r = subprocess.run(
        [sys.executable, "-c", "import warmline.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "WARMLINE_SECRET_KEY" in r.stderr
    env["WARMLINE_SECRET_KEY"] = "k" * 50
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import warmline.settings as s; print(s.SESSION_COOKIE_SECURE, s.DEBUG)",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout.split() == ["True", "False"]


def test_cli_creates_workspace_and_member_with_token_last(db, capsys):
    call_command("createworkspace", name="Brand", slug="brand", time_zone="America/New_York")
    call_command(
        "createmember", workspace="brand", email="Lead@Brand.example", role="lead", token=True
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert member_for_token(out[-1]).role == "lead"
    assert Member.objects.get().user.email == "lead@brand.example"
    assert AuditEntry.objects.filter(action="member.create").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        ({"name": "X", "slug": "Bad Slug"}, "slug"),
        ({"name": "X", "slug": "x", "time_zone": "Mars/Base"}, "time zone"),
    ],
)
def test_cli_rejects_bad_input_clearly(db, args, message):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("createworkspace", **args)
