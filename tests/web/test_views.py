"""Pages of the agent workspace through Django's test client."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import ConversationFactory, CustomerFactory, MemberFactory
from warmline.conversations import services as conversations
from warmline.conversations.models import Conversation, EntryKind, TimelineEntry
from warmline.customers.models import Customer
from warmline.knowledge.services import create_saved_reply
from warmline.tenancy.models import Notification

from .conftest import ingest

pytestmark = pytest.mark.django_db


def test_signed_out_agent_is_sent_to_sign_in(client):
    response = client.get(reverse("web:home"))
    assert response.status_code == 302
    assert reverse("web:login") in response["Location"]


def test_sign_in_then_inbox(client, member):
    response = client.post(
        reverse("web:login"),
        {"username": member.user.username, "password": "correct horse battery"},
    )
    assert response.status_code == 302
    assert client.get(reverse("web:home")).status_code == 200


def test_workspace_picker_switches_workspace(agent_client, member, other_workspace):
    MemberFactory(workspace=other_workspace, user=member.user)
    page = agent_client.get(reverse("web:home")).content.decode()
    assert "Globex" in page  # the picker lists both brands
    agent_client.get(reverse("web:switch_workspace", args=["globex"]))
    page = agent_client.get(reverse("web:home")).content.decode()
    assert '<span class="ws">Globex</span>' in page


def test_inbox_views(agent_client, member, workspace, team):
    c = CustomerFactory(workspace=workspace)
    mine = ConversationFactory(customer=c, owner=member, subject="mine-one")
    ConversationFactory(customer=c, subject="nobody-one")
    ConversationFactory(customer=c, team=team, subject="team-one")
    ConversationFactory(customer=c, status="resolved", subject="done-one")
    ConversationFactory(
        customer=c,
        status="snoozed",
        snoozed_until=timezone.now() + dt.timedelta(hours=2),
        subject="later-one",
    )

    def subjects(view):
        page = agent_client.get(reverse("web:home"), {"view": view}).content.decode()
        return {
            s for s in ("mine-one", "nobody-one", "team-one", "done-one", "later-one") if s in page
        }

    assert subjects("mine") == {"mine-one"}
    assert subjects("unassigned") == {"nobody-one", "team-one"}
    assert subjects("team") == {"team-one"}
    assert subjects("all") == {"mine-one", "nobody-one", "team-one", "later-one"}
    assert subjects("snoozed") == {"later-one"}
    assert subjects("resolved") == {"done-one"}
    assert mine.number


def test_inbox_filters_by_tag_sentiment_priority_and_channel(agent_client, workspace):
    c = CustomerFactory(workspace=workspace)
    ConversationFactory(
        customer=c, subject="vip-angry", tags=["vip", "refund"], sentiment_last=-0.8
    )
    ConversationFactory(customer=c, subject="vipish-calm", tags=["vipish"], sentiment_last=0.5)
    ConversationFactory(customer=c, subject="urgent-chat", priority="urgent", channel="chat")

    def subjects(**params):
        page = agent_client.get(reverse("web:home"), {"view": "all", **params}).content.decode()
        return {s for s in ("vip-angry", "vipish-calm", "urgent-chat") if s in page}

    assert subjects(tag="vip") == {"vip-angry"}  # exact tag, not a prefix
    assert subjects(sentiment="negative") == {"vip-angry"}
    assert subjects(sentiment="positive") == {"vipish-calm"}
    assert subjects(priority="urgent") == {"urgent-chat"}
    assert subjects(channel="chat") == {"urgent-chat"}


def test_inbox_sorts_by_waiting_and_priority(agent_client, workspace):
    c = CustomerFactory(workspace=workspace)
    now = timezone.now()
    ConversationFactory(
        customer=c, subject="AAA-low", priority="low", waiting_since=now - dt.timedelta(hours=5)
    )
    ConversationFactory(
        customer=c,
        subject="BBB-urgent",
        priority="urgent",
        waiting_since=now - dt.timedelta(minutes=5),
    )
    page = agent_client.get(
        reverse("web:home"), {"view": "all", "sort": "waiting"}
    ).content.decode()
    assert page.index("AAA-low") < page.index("BBB-urgent")
    page = agent_client.get(
        reverse("web:home"), {"view": "all", "sort": "priority"}
    ).content.decode()
    assert page.index("BBB-urgent") < page.index("AAA-low")


def test_inbox_pages_by_fifty(agent_client, workspace):
    c = CustomerFactory(workspace=workspace)
    for i in range(55):
        ConversationFactory(customer=c, subject=f"row-{i}")
    page = agent_client.get(reverse("web:home"), {"view": "all"}).content.decode()
    assert page.count("data-row ") == 50
    assert 'rel="next"' in page
    # Keyset pagination: the "Next" link carries the last row's position, not an offset.
    after = re.search(r'after=([^"&]+)"', page).group(1)
    page2 = agent_client.get(
        reverse("web:home"), {"view": "all", "after": unquote(after)}
    ).content.decode()
    assert page2.count("data-row ") == 5
    assert 'rel="next"' not in page2
    numbers = set(re.findall(r'data-row data-number="(\d+)"', page)) | set(
        re.findall(r'data-row data-number="(\d+)"', page2)
    )
    assert len(numbers) == 55  # every row exactly once across the two pages


def test_bulk_assign_and_resolve(agent_client, member, workspace):
    c = CustomerFactory(workspace=workspace)
    colleague = MemberFactory(workspace=workspace)
    a, b = ConversationFactory(customer=c), ConversationFactory(customer=c)
    agent_client.post(
        reverse("web:inbox_bulk"),
        {"numbers": [a.number, b.number], "action": "assign", "owner": colleague.pk},
    )
    assert set(
        Conversation.objects.filter(pk__in=[a.pk, b.pk]).values_list("owner_id", flat=True)
    ) == {colleague.pk}
    assert Notification.objects.filter(member=colleague, kind="assignment").count() == 1
    agent_client.post(reverse("web:inbox_bulk"), {"numbers": [a.number], "action": "resolve"})
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("resolved", "open")


def test_conversation_page_shows_timeline_and_panel(agent_client, case):
    page = agent_client.get(reverse("web:conversation", args=[case.number])).content.decode()
    assert "my order NW100 has not arrived" in page
    assert "NW100" in page and "Shipped" in page  # recent order with status
    assert "Gold" in page  # tier
    assert "{#" not in page and "{%" not in page  # no template syntax leaks as text
    # Room that later work fills: the sentiment trend and the care app's health section.
    assert "Sentiment trend" in page and 'id="care-panel"' in page
    assert 'value="email" selected' in page  # answers on the customer's last channel


def test_reply_defaults_to_last_channel_and_can_switch(agent_client, case, workspace):
    ingest(
        workspace,
        "Also texting you",
        channel="sms",
        phone="+34 612 345 678",
        email="ana@example.com",
    )
    case.refresh_from_db()
    assert case.last_channel == "sms"
    agent_client.post(
        reverse("web:reply", args=[case.number]), {"text": "On its way", "channel": ""}
    )
    agent_client.post(
        reverse("web:reply", args=[case.number]), {"text": "Details by email", "channel": "email"}
    )
    replies = list(
        TimelineEntry.objects.filter(conversation=case, kind=EntryKind.AGENT_REPLY).values_list(
            "text", "channel"
        )
    )
    assert replies == [("On its way", "sms"), ("Details by email", "email")]


def test_htmx_reply_returns_the_timeline_fragment(agent_client, case):
    response = agent_client.post(
        reverse("web:reply", args=[case.number]),
        {"text": "Sorted!", "kind": "reply"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.startswith('<section id="timeline"') and "Sorted!" in body


def test_note_with_mention_notifies_colleague(agent_client, member, workspace, case):
    colleague = MemberFactory(workspace=workspace, display_name="Inés Navarro")
    bystander = MemberFactory(workspace=workspace, display_name="Sam Okafor")
    agent_client.post(
        reverse("web:reply", args=[case.number]),
        {"text": "@InésNavarro can you check the refund?", "kind": "note"},
    )
    note = TimelineEntry.objects.get(conversation=case, kind=EntryKind.INTERNAL_NOTE)
    assert "refund" in note.text
    notes = Notification.objects.filter(kind="mention")
    assert [n.member_id for n in notes] == [colleague.pk]
    assert notes[0].link == reverse("web:conversation", args=[case.number])
    assert not Notification.objects.filter(member=bystander).exists()
    # the colleague sees it and marks it read
    from django.test import Client

    other = Client()
    other.force_login(colleague.user)
    assert f"#{case.number}" in other.get(reverse("web:notifications")).content.decode()
    other.post(reverse("web:notifications"))
    assert Notification.objects.get(pk=notes[0].pk).read_at is not None


def test_status_priority_owner_team_and_snooze(agent_client, member, team, case):
    url = reverse("web:update_conversation", args=[case.number])
    agent_client.post(
        url, {"status": "pending", "priority": "high", "owner": member.pk, "team": team.pk}
    )
    case.refresh_from_db()
    assert (case.status, case.priority, case.owner_id, case.team_id) == (
        "pending",
        "high",
        member.pk,
        team.pk,
    )
    agent_client.post(url, {"snooze": "tomorrow"})
    case.refresh_from_db()
    assert case.status == "snoozed" and case.snoozed_until > timezone.now()
    kinds = set(TimelineEntry.objects.filter(conversation=case).values_list("kind", flat=True))
    assert {"status_change", "priority_change", "assignment"} <= kinds
    page = agent_client.get(reverse("web:conversation", args=[case.number])).content.decode()
    assert "Snoozed until" in page and "Assigned to" in page


def test_merge_conversation(agent_client, workspace, case):
    other = ConversationFactory(customer=case.customer, subject="dup")
    conversations.add_note(workspace=workspace, member=None, conversation=other, text="moved-note")
    agent_client.post(
        reverse("web:merge_conversation", args=[case.number]), {"other": f"#{other.number}"}
    )
    other.refresh_from_db()
    assert other.merged_into_id == case.pk
    page = agent_client.get(reverse("web:conversation", args=[case.number])).content.decode()
    assert "moved-note" in page and f"Merged conversation #{other.number}" in page


def test_saved_reply_fills_variables(agent_client, member, workspace, case):
    macro = create_saved_reply(
        workspace=workspace,
        actor=member,
        title="Delay",
        body="Hi {{first_name}}, thanks for {{ tenure }} with us. Your order {{last_order}}. {{unknown}}",
    )
    data = agent_client.get(reverse("web:saved_reply", args=[case.number, macro.pk])).json()
    assert data["text"].startswith("Hi Ana, thanks for ")
    assert "year" in data["text"]  # tenure in words
    assert "NW100 (Shipped" in data["text"]
    assert "{{unknown}}" in data["text"]  # unknown variables stay visible


def test_customer_text_is_escaped_everywhere(agent_client, member, workspace):
    evil = "<script>window.pwned=1</script>"
    result = ingest(workspace, f"hello {evil}", name=f"Eve {evil}", email="eve@example.com")
    macro = create_saved_reply(workspace=workspace, actor=member, title="Hi", body="Dear {{name}}")
    pages = [
        agent_client.get(reverse("web:home"), {"view": "all"}),
        agent_client.get(reverse("web:conversation", args=[result.conversation.number])),
        agent_client.get(reverse("web:customer", args=[result.customer.pk])),
        agent_client.get(reverse("web:customers"), {"q": "Eve"}),
    ]
    for response in pages:
        body = response.content.decode()
        assert "<script>window.pwned" not in body
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in body
    filled = agent_client.get(
        reverse("web:saved_reply", args=[result.conversation.number, macro.pk])
    )
    # JSON text for a textarea's value (never HTML); the script arrives as inert text.
    assert filled.json()["text"] == f"Dear Eve {evil}"
    assert filled["Content-Type"] == "application/json"


def test_other_workspace_conversation_is_404(agent_client, other_workspace):
    c = CustomerFactory(workspace=other_workspace)
    conv = ConversationFactory(customer=c, number=777)
    assert agent_client.get(reverse("web:conversation", args=[conv.number])).status_code == 404
    assert agent_client.get(reverse("web:customer", args=[c.pk])).status_code == 404


def test_customer_search_edit_and_merge(agent_client, member, workspace, case):
    keep = case.customer
    page = agent_client.get(reverse("web:customers"), {"q": "NW100"}).content.decode()
    assert keep.name in page  # found by order number
    page = agent_client.get(reverse("web:customers"), {"q": "ana@example.com"}).content.decode()
    assert keep.name in page
    response = agent_client.post(
        reverse("web:customer_edit", args=[keep.pk]),
        {
            "name": "Ana G. García",
            "tier": "platinum",
            "lifecycle": "active",
            "notes": "Prefers mornings",
            "owner_id": member.pk,
        },
    )
    assert response.status_code == 302
    keep.refresh_from_db()
    assert (keep.name, keep.tier, keep.owner_id) == ("Ana G. García", "platinum", member.pk)
    dup = ingest(
        workspace, "it's me again", email="ana.garcia@work.example", name="Ana Garcia"
    ).customer
    preview = agent_client.get(
        reverse("web:customer_merge", args=[keep.pk]), {"other": dup.pk}
    ).content.decode()
    assert "1 conversation" in preview and "1 identity" in preview
    agent_client.post(
        reverse("web:customer_merge", args=[keep.pk]), {"other": dup.pk, "confirm": "1"}
    )
    assert not Customer.objects.filter(pk=dup.pk).exists()
    assert keep.identities.filter(value="ana.garcia@work.example").exists()


def test_spanish_interface_and_workspace_time_zone(agent_client, member, case):
    member.locale = "es"
    member.save()
    page = agent_client.get(reverse("web:conversation", args=[case.number]))
    body = page.content.decode()
    assert page["Content-Language"] == "es"
    assert '<html lang="es">' in body
    assert "Bandeja de entrada" in body and "Responder al cliente" in body
    # times are rendered in Europe/Madrid (the workspace's zone), whose offset is +01/+02
    assert ("+01:00" in body) or ("+02:00" in body)
    assert "+00:00" not in body


def test_preferences_change_language(agent_client, member):
    agent_client.post(reverse("web:preferences"), {"locale": "es"})
    member.refresh_from_db()
    assert member.locale == "es"
    assert "Preferencias" in agent_client.get(reverse("web:preferences")).content.decode()


def test_member_of_several_brands_picks_a_workspace_after_sign_in(client, member, other_workspace):
    MemberFactory(workspace=other_workspace, user=member.user)
    response = client.post(
        reverse("web:login"),
        {"username": member.user.username, "password": "correct horse battery"},
    )
    assert response["Location"] == reverse("web:pick_workspace")
    picker = client.get(reverse("web:pick_workspace")).content.decode()
    assert "Choose a workspace" in picker and "Globex" in picker and "Acme" in picker
    client.get(reverse("web:switch_workspace", args=["globex"]))
    assert '<span class="ws">Globex</span>' in client.get(reverse("web:home")).content.decode()
    # Someone else's workspace cannot be chosen.
    assert client.get(reverse("web:switch_workspace", args=["nowhere"])).status_code == 404


def test_timeline_pages_back_by_keyset(agent_client, workspace, case):
    """320 entries: the newest 150, then 150 before those, then the first 20 — each once."""
    start = timezone.now() - dt.timedelta(days=30)
    TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                workspace=workspace,
                conversation=case,
                kind="customer_message",
                channel="email",
                text=f"line-{i:03d}",
                # pairs share a timestamp so the id breaks ties
                occurred_at=start + dt.timedelta(minutes=i // 2),
            )
            for i in range(319)
        ]
    )
    url = reverse("web:conversation", args=[case.number])
    seen: list[str] = []
    pages = 0
    query: dict = {}
    while True:
        page = agent_client.get(url, query).content.decode()
        pages += 1
        seen += re.findall(r"line-\d{3}|my order NW100", page)
        link = re.search(r'href="\?before=([^"]+)"', page)
        if not link:
            break
        assert "Back to the latest entries" in page or pages == 1
        query = {"before": unquote(link.group(1))}
    assert pages == 3
    assert len(seen) == 320 and len(set(seen)) == 320


def test_timeline_fragment_carries_the_case_header_out_of_band(agent_client, member, case):
    conversations.update_conversation(
        workspace=case.workspace, actor=member, conversation=case, changes={"priority": "urgent"}
    )
    fragment = agent_client.get(reverse("web:timeline", args=[case.number])).content.decode()
    assert '<p class="meta" id="case-meta" hx-swap-oob="true">' in fragment
    assert "Urgent" in fragment.split('id="case-meta"')[1]
    page = agent_client.get(reverse("web:conversation", args=[case.number])).content.decode()
    assert page.count('id="case-meta"') == 1 and "hx-swap-oob" not in page
