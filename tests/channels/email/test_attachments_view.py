"""Stored attachments are served to the workspace's members only, hostile types as downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import MemberFactory, WorkspaceFactory
from warmline.channels.email import services
from warmline.conversations.models import Conversation, TimelineEntry

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def entry(workspace):
    services.add_email_address(workspace=workspace, actor=None, address="help@brand.example")
    raw = (CORPUS / "14-inline-image-and-attachments.eml").read_bytes()
    [o] = services.receive(raw, recipients=["help@brand.example"]).outcomes
    return TimelineEntry.objects.get(pk=o.entry_id)


def test_member_gets_the_files_and_the_timeline_links_them(client, workspace, entry):
    client.force_login(MemberFactory(workspace=workspace).user)
    by_type = {a["content_type"]: i for i, a in enumerate(entry.attachments)}
    image = client.get(reverse("email:attachment", args=[entry.pk, by_type["image/png"]]))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert (
        image["X-Content-Type-Options"] == "nosniff"
        and "sandbox" in image["Content-Security-Policy"]
    )
    assert not image["Content-Disposition"].startswith("attachment")
    assert b"".join(image.streaming_content)[:4] == b"\x89PNG"
    pdf = client.get(reverse("email:attachment", args=[entry.pk, by_type["application/pdf"]]))
    assert pdf["Content-Disposition"].startswith("attachment")
    assert pdf["Content-Type"] == "application/octet-stream"
    number = Conversation.objects.get(pk=entry.conversation_id).number
    page = client.get(reverse("web:conversation", args=[number])).content.decode()
    assert reverse("email:attachment", args=[entry.pk, 0]) in page
    assert client.get(reverse("email:attachment", args=[entry.pk, 99])).status_code == 404


def test_another_workspace_gets_404(client, entry):
    other = WorkspaceFactory(slug="globex")
    client.force_login(MemberFactory(workspace=other).user)
    assert client.get(reverse("email:attachment", args=[entry.pk, 0])).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, entry):
    response = client.get(reverse("email:attachment", args=[entry.pk, 0]))
    assert response.status_code == 302 and "login" in response["Location"]
