"""The quarantine in the back office: listed, downloadable as .eml, re-processable, scoped."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import MemberFactory, WorkspaceFactory
from warmline.channels.email import services
from warmline.channels.models import QuarantinedEmail, QuarantineStatus
from warmline.conversations.models import TimelineEntry

RAW = (
    b"From: Sam <sam@example.com>\r\nTo: sales@brand.example\r\n"
    b"Subject: Quote <script>\r\nMessage-ID: <q1@example.com>\r\n\r\nA quote please\r\n"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def admin_client_(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")
    client.force_login(user)
    return client


def test_quarantine_is_listed_downloadable_and_reprocessable(admin_client_, workspace):
    [o] = services.receive(RAW, recipients=["sales@brand.example"]).outcomes
    q = QuarantinedEmail.objects.get(pk=o.quarantine_id)
    page = admin_client_.get(reverse("admin:channel_adapters_quarantinedemail_changelist"))
    html = page.content.decode()
    assert page.status_code == 200 and "unroutable" in html and "sam@example.com" in html
    assert "Quote <script>" not in html  # escaped
    eml = admin_client_.get(reverse("admin:channel_adapters_quarantinedemail_eml", args=[q.pk]))
    assert eml.status_code == 200 and b"".join(eml.streaming_content) == RAW
    assert eml["Content-Disposition"].startswith("attachment")
    services.add_email_address(workspace=workspace, actor=None, address="sales@brand.example")
    admin_client_.post(
        reverse("admin:channel_adapters_quarantinedemail_changelist"),
        {"action": "reprocess_selected", "_selected_action": [q.pk]},
    )
    q.refresh_from_db()
    assert q.status == QuarantineStatus.REPROCESSED
    assert TimelineEntry.objects.filter(workspace=workspace, pk=q.entry_id).exists()


def test_staff_see_only_their_workspaces_quarantine(client, workspace):
    services.add_email_address(workspace=workspace, actor=None, address="help@brand.example")
    other = WorkspaceFactory(slug="globex")
    services.add_email_address(workspace=other, actor=None, address="care@globex.example")
    bad = b"To: x\r\n\r\nno sender\r\n"
    mine = services.receive(bad, recipients=["help@brand.example"]).outcomes[0]
    theirs = services.receive(bad + b"2", recipients=["care@globex.example"]).outcomes[0]
    staff = MemberFactory(workspace=workspace, role="admin").user
    staff.is_staff = True
    staff.save()
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="quarantinedemail"))
    client.force_login(staff)
    url = reverse("admin:channel_adapters_quarantinedemail_eml", args=[theirs.quarantine_id])
    assert client.get(url).status_code == 404
    url = reverse("admin:channel_adapters_quarantinedemail_eml", args=[mine.quarantine_id])
    assert client.get(url).status_code == 200


def test_relay_password_is_never_shown_and_kept_when_left_empty(admin_client_, workspace):
    row = services.add_email_address(
        workspace=workspace, actor=None, address="help@brand.example",
        smtp_host="smtp.brand.example", smtp_password="s3cret-relay",
    )  # fmt: skip
    url = reverse("admin:channel_adapters_emailaddress_change", args=[row.pk])
    page = admin_client_.get(url).content.decode()
    assert "s3cret-relay" not in page and 'type="password"' in page
    response = admin_client_.post(
        url,
        {"workspace": workspace.pk, "address": "help@brand.example", "from_name": "Acme Care",
         "signature": "", "is_active": "on", "is_default": "on",
         "smtp_host": "smtp.brand.example", "smtp_port": "", "smtp_username": "",
         "smtp_password": "", "smtp_security": "starttls"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    row.refresh_from_db()
    assert row.from_name == "Acme Care" and row.smtp_password == "s3cret-relay"
