"""Trends in the product: assignment off the ingest signal, flags, lifecycle, routing,
problem reports, fix verification and proactive outreach (real database, real send())."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.factories import MemberFactory
from warmline.channels.models import EmailAddress, OutboundMessage
from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.models import EntryKind, TimelineEntry
from warmline.customers.models import Customer
from warmline.errors import Conflict, InvalidInput, NotFound, PolicyDenied
from warmline.proactive import services
from warmline.proactive.models import (
    OutreachRecipient,
    RoutingRule,
    Topic,
    TopicMessage,
    Trend,
    TrendConversation,
    TrendSettings,
    TrendState,
)
from warmline.tenancy.models import Notification

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
BACKGROUND = [
    "How do I change my home address?",
    "Where is my card? It has not arrived",
    "I was charged twice for one purchase",
    "Can I get a refund for my last order?",
    "How do I reset my password?",
    "What are your opening hours?",
]
CRASH = [
    "The app crashes when I open my statement",
    "My app keeps crashing when I open statements",
    "The app crashes when I open the statement",
    "app crashes when I open my statement, please help",
    "the app crashes as soon as I open my statement",
]


@pytest.fixture(autouse=True)
def sends_email(workspace):
    """Outreach leaves through send(): the workspace needs an address to send from."""
    return EmailAddress.objects.create(
        workspace=workspace, address="help@acme.example", from_name="Acme", is_default=True
    )


@pytest.fixture
def settings_row(workspace):
    return TrendSettings.objects.create(workspace=workspace, warmup_days=1, confirm_min_customers=4)


def say(workspace, capture, text, who, at, channel="email"):
    """Ingest one customer message and run what the ingest signal queued (Huey immediate)."""
    with capture(execute=True):
        result = conversations.ingest(
            workspace=workspace,
            message=InboundMessage(
                channel=channel,
                text=text,
                sender=Sender(email=f"{who}@example.org", name=who.title()),
                external_id=f"{who}-{at.timestamp()}",
                sent_at=at,
            ),
        )
    return result


def history(workspace, capture, days=3):
    """A few days of ordinary contacts from different customers: the baseline."""
    n = 0
    for day in range(days):
        for k, text in enumerate(BACKGROUND):
            say(workspace, capture, text, f"bg{n}", T0 + dt.timedelta(days=day, hours=k))
            n += 1


def crash_reports(workspace, capture, count, start=T0 + dt.timedelta(days=3, hours=8), first=0):
    """``count`` different customers report the same new problem, 40 minutes apart."""
    results = []
    for k in range(first, first + count):
        at = start + dt.timedelta(minutes=40 * (k - first))
        results.append(say(workspace, capture, CRASH[k], f"crash{k}", at))
    return results


def test_ingest_signal_files_messages_under_topics(
    workspace, settings_row, django_capture_on_commit_callbacks
):
    a = say(workspace, django_capture_on_commit_callbacks, CRASH[0], "ana", T0)
    b = say(workspace, django_capture_on_commit_callbacks, CRASH[1], "bo", T0)
    c = say(workspace, django_capture_on_commit_callbacks, BACKGROUND[0], "cy", T0)
    filed = {m.entry_id: m.topic_id for m in TopicMessage.objects.filter(workspace=workspace)}
    assert filed[a.entry.pk] == filed[b.entry.pk] != filed[c.entry.pk]
    topic = Topic.objects.get(pk=filed[a.entry.pk])
    assert topic.message_count == 2 and "crashes" in topic.label or "app" in topic.label
    assert set(topic.representatives) == {a.entry.pk, b.entry.pk}
    # Idempotent: the signal fires again after deferred analysis; nothing is filed twice.
    assert services.assign_message(workspace=workspace, entry_id=a.entry.pk) is None
    assert TopicMessage.objects.filter(workspace=workspace).count() == 3


def test_third_customer_flags_a_new_issue_notifies_leads_and_marks_conversations(
    workspace, settings_row, lead, member, django_capture_on_commit_callbacks
):
    history(workspace, django_capture_on_commit_callbacks)
    first_two = crash_reports(workspace, django_capture_on_commit_callbacks, 2)
    assert not Trend.objects.filter(workspace=workspace).exists()
    third = crash_reports(
        workspace,
        django_capture_on_commit_callbacks,
        1,
        start=T0 + dt.timedelta(days=3, hours=10),
        first=2,
    )
    trend = Trend.objects.get(workspace=workspace)
    assert trend.reason == Trend.Reason.NEW_TOPIC and trend.state == TrendState.EMERGING
    assert trend.customer_count == 3 and trend.detail["at_entry"] == third[0].entry.pk
    marked = set(
        TrendConversation.objects.filter(trend=trend).values_list("conversation_id", flat=True)
    )
    assert marked == {r.conversation.pk for r in first_two + third}
    note = TimelineEntry.objects.filter(
        conversation=third[0].conversation, kind=EntryKind.SYSTEM, data__trend=trend.pk
    )
    assert note.exists()
    # Leads hear about it; agents do not get a lead's notification.
    assert Notification.objects.filter(member=lead, kind="trend").count() == 1
    assert not Notification.objects.filter(member=member, kind="trend").exists()
    # A fourth customer joins the trend (no second flag) and confirms it (threshold 4).
    say(
        workspace,
        django_capture_on_commit_callbacks,
        CRASH[3],
        "crash9",
        T0 + dt.timedelta(days=3, hours=11),
    )
    trend.refresh_from_db()
    assert Trend.objects.filter(workspace=workspace).count() == 1
    assert trend.state == TrendState.CONFIRMED and trend.customer_count == 4


def test_one_customer_writing_three_times_is_not_a_trend(
    workspace, settings_row, django_capture_on_commit_callbacks
):
    history(workspace, django_capture_on_commit_callbacks)
    for k in range(3):
        say(
            workspace,
            django_capture_on_commit_callbacks,
            CRASH[k],
            "same",
            T0 + dt.timedelta(days=3, hours=8 + k),
        )
    assert not Trend.objects.filter(workspace=workspace).exists()


def test_workspace_threshold_and_switch(workspace, django_capture_on_commit_callbacks):
    TrendSettings.objects.create(workspace=workspace, warmup_days=1, new_topic_min_customers=2)
    history(workspace, django_capture_on_commit_callbacks)
    crash_reports(workspace, django_capture_on_commit_callbacks, 2)
    assert Trend.objects.filter(workspace=workspace).count() == 1
    TrendSettings.objects.filter(workspace=workspace).update(enabled=False)
    r = say(
        workspace,
        django_capture_on_commit_callbacks,
        "Totally new thing",
        "z",
        T0 + dt.timedelta(days=4),
    )
    assert not TopicMessage.objects.filter(entry_id=r.entry.pk).exists()


@pytest.fixture
def flagged(workspace, settings_row, django_capture_on_commit_callbacks):
    history(workspace, django_capture_on_commit_callbacks)
    crash_reports(workspace, django_capture_on_commit_callbacks, 3)
    return Trend.objects.get(workspace=workspace)


def test_lifecycle_paths_and_refusals(workspace, flagged, lead):
    with pytest.raises(Conflict):
        services.record_fix(workspace=workspace, actor=lead, trend_id=flagged.pk, summary="x")
    services.acknowledge(workspace=workspace, actor=lead, trend_id=flagged.pk)
    with pytest.raises(InvalidInput) as err:
        services.record_fix(workspace=workspace, actor=lead, trend_id=flagged.pk, summary=" ")
    assert err.value.field == "summary"
    fixed = services.record_fix(
        workspace=workspace, actor=lead, trend_id=flagged.pk, summary="Statement view patched"
    )
    assert fixed.state == TrendState.FIXED and fixed.fixed_by == lead and fixed.fixed_at
    with pytest.raises(Conflict):
        services.dismiss(workspace=workspace, actor=lead, trend_id=flagged.pk)


def test_closed_trend_lets_the_issue_be_flagged_again(
    workspace, flagged, lead, django_capture_on_commit_callbacks
):
    services.dismiss(workspace=workspace, actor=lead, trend_id=flagged.pk, reason="known")
    crash_reports(
        workspace,
        django_capture_on_commit_callbacks,
        1,
        start=T0 + dt.timedelta(days=3, hours=12),
        first=3,
    )
    # Dismissed: the new message does not join it.
    flagged.refresh_from_db()
    assert flagged.message_count == 3 and flagged.state == TrendState.DISMISSED


def test_other_workspace_trend_is_not_found(workspace, other_workspace, flagged, lead):
    with pytest.raises(NotFound):
        services.get_trend(workspace=other_workspace, trend_id=flagged.pk)


def test_routing_rules_first_match_by_position(workspace, flagged, lead):
    def rule(**kw):
        return services.save_rule(workspace=workspace, actor=lead, data=kw)

    rule(name="Billing words", department="billing", keywords=["refund", "charged"], position=0)
    rule(
        name="App on email",
        department="technical",
        keywords=["crash"],
        channels=["email"],
        position=1,
    )
    rule(name="Anything email", department="support", channels=["email"], position=2)
    chosen = services.suggest_owner(workspace=workspace, trend=flagged)
    assert chosen.name == "App on email"
    # Both kinds must match: the same keywords on another channel do not.
    r = RoutingRule.objects.get(name="App on email")
    assert not services.rule_matches(r, text="app crash", names=[], channels={"sms"})
    assert services.rule_matches(r, text="App CRASHES", names=[], channels={"email"})
    # Intents match a topic's name, as a lead renamed it.
    intent = RoutingRule(name="i", department="product", intents=["Statement crash"])
    assert services.rule_matches(intent, text="", names=["statement crash"], channels=set())
    assert not services.rule_matches(
        RoutingRule(name="empty", department="other"), text="x", names=[], channels=set()
    )
    with pytest.raises(InvalidInput) as err:
        rule(name="bad", department="kitchen")
    assert err.value.field == "department"
    agent = MemberFactory(workspace=workspace, role="agent")
    with pytest.raises(PolicyDenied):
        services.save_rule(
            workspace=workspace, actor=agent, data={"name": "x", "department": "other"}
        )


def test_flag_routes_to_the_department_rule(workspace, lead, django_capture_on_commit_callbacks):
    TrendSettings.objects.create(workspace=workspace, warmup_days=1)
    services.save_rule(
        workspace=workspace,
        actor=lead,
        data={"name": "App", "department": "technical", "keywords": ["app"]},
    )
    history(workspace, django_capture_on_commit_callbacks)
    crash_reports(workspace, django_capture_on_commit_callbacks, 3)
    trend = Trend.objects.get(workspace=workspace)
    assert trend.department == "technical" and trend.routing_rule.name == "App"


def test_problem_report_and_markdown(workspace, flagged, lead):
    Customer.objects.filter(workspace=workspace, name="Crash0").update(
        tier="gold", lifetime_value=Decimal("1200.50")
    )
    Customer.objects.filter(workspace=workspace, name="Crash1").update(
        lifetime_value=Decimal("99.50")
    )
    for text, score in zip(CRASH[:3], (-0.6, -0.3, 0.3), strict=True):
        TimelineEntry.objects.filter(workspace=workspace, text=text).update(sentiment=score)
    report = services.problem_report(workspace=workspace, trend_id=flagged.pk)
    assert report["customers"]["count"] == 3
    assert report["customers"]["by_tier"] == {"gold": 1, "standard": 2}
    assert report["customers"]["lifetime_value_total"] == "1300.00"
    assert report["channels"] == {"email": 3}
    assert report["volume"]["messages"] == 3 and report["volume"]["by_day"][0]["messages"] == 3
    assert report["sentiment"]["mean"] == -0.2 and report["sentiment"]["negative_share"] == 0.667
    assert len(report["representative_messages"]) == 3
    assert report["first_seen"] < report["last_seen"]
    md = services.report_markdown(report)
    assert md.startswith("# Problem report: ")
    for section in ("## Volume over time", "## Customers by tier", "## Representative messages"):
        assert section in md
    assert CRASH[0] in md


def test_fix_comparison_shows_whether_contacts_dropped(
    workspace, flagged, lead, django_capture_on_commit_callbacks
):
    services.acknowledge(workspace=workspace, actor=lead, trend_id=flagged.pk)
    fixed_at = T0 + dt.timedelta(days=3, hours=12)
    services.record_fix(
        workspace=workspace, actor=lead, trend_id=flagged.pk, summary="patched", fixed_at=fixed_at
    )
    early = services.fix_comparison(
        workspace=workspace, trend_id=flagged.pk, now=fixed_at + dt.timedelta(hours=2)
    )
    assert early["too_early"] and not early["went_away"]
    quiet = services.fix_comparison(
        workspace=workspace, trend_id=flagged.pk, days=1, now=fixed_at + dt.timedelta(days=2)
    )
    assert quiet["before"]["messages"] == 3 and quiet["after"]["messages"] == 0
    # Three contacts in a day, none in the day after: too few to call it gone.
    assert quiet["went_away"] is False and quiet["p_value"] > 0.05
    for k in range(6):  # more contacts before the fix make the drop significant
        say(
            workspace,
            django_capture_on_commit_callbacks,
            CRASH[k % 5],
            f"early{k}",
            fixed_at - dt.timedelta(hours=3, minutes=k),
        )
    gone = services.fix_comparison(
        workspace=workspace, trend_id=flagged.pk, days=1, now=fixed_at + dt.timedelta(days=2)
    )
    assert gone["before"]["messages"] == 9 and gone["went_away"] is True
    for k in range(8):  # the problem comes back after the fix
        say(
            workspace,
            django_capture_on_commit_callbacks,
            CRASH[k % 5],
            f"late{k}",
            fixed_at + dt.timedelta(hours=2, minutes=k),
        )
    back = services.fix_comparison(
        workspace=workspace, trend_id=flagged.pk, days=1, now=fixed_at + dt.timedelta(days=2)
    )
    assert back["after"]["messages"] == 8 and back["went_away"] is False


def test_outreach_honours_opt_outs_and_frequency_cap(
    workspace, flagged, lead, django_capture_on_commit_callbacks
):
    c0 = Customer.objects.get(workspace=workspace, name="Crash0")
    c1 = Customer.objects.get(workspace=workspace, name="Crash1")
    c0.preferences = {"opt_out": True}
    c0.save()
    template = "Hi {name}, we fixed {topic}. {unknown} stays."
    preview = services.preview_outreach(workspace=workspace, trend_id=flagged.pk, template=template)
    statuses = {r["customer_id"]: r["status"] for r in preview["recipients"]}
    assert statuses[c0.pk] == "opted_out" and statuses[c1.pk] == "pending"
    assert preview["will_send"] == 2 and preview["skipped"] == 1
    pending = [r for r in preview["recipients"] if r["status"] == "pending"]
    assert (
        pending[0]["message"].startswith("Hi Crash") and "{unknown} stays." in pending[0]["message"]
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outreach = services.create_outreach(
            workspace=workspace, actor=lead, trend_id=flagged.pk, template=template
        )
    # The customer opts out after the preview, before the background send: honoured.
    c1.preferences = {"opt_out_channels": ["email"]}
    c1.save()
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    rows = {r.customer_id: r for r in OutreachRecipient.objects.filter(outreach=outreach)}
    assert rows[c0.pk].status == "opted_out" and rows[c1.pk].status == "opted_out"
    sent = [r for r in rows.values() if r.status == "sent"]
    assert len(sent) == 1 and sent[0].entry_id
    out = OutboundMessage.objects.get(workspace=workspace, entry_id=sent[0].entry_id)
    assert out.text.startswith("Hi Crash2, we fixed") and out.channel == "email"
    outreach.refresh_from_db()
    assert outreach.status == "sent"
    # A second outreach within the cap skips the customer who was just written to.
    again = services.preview_outreach(workspace=workspace, trend_id=flagged.pk)
    assert {r["status"] for r in again["recipients"]} == {"opted_out", "capped"}
    agent = MemberFactory(workspace=workspace, role="agent")
    with pytest.raises(PolicyDenied):
        services.create_outreach(
            workspace=workspace, actor=agent, trend_id=flagged.pk, template="x"
        )


def test_rename_merge_split_topics(workspace, flagged, member):
    topic = flagged.topic
    with pytest.raises(InvalidInput):
        services.rename_topic(workspace=workspace, actor=member, topic_id=topic.pk, name="  ")
    services.rename_topic(
        workspace=workspace, actor=member, topic_id=topic.pk, name="Statement crash"
    )
    other = Topic.objects.filter(workspace=workspace, status="active").exclude(pk=topic.pk).first()
    moved = other.message_count
    kept = services.merge_topics(
        workspace=workspace, actor=member, keep_id=topic.pk, absorb_id=other.pk
    )
    other.refresh_from_db()
    assert other.status == "merged" and other.merged_into_id == topic.pk
    assert kept.message_count == 3 + moved and kept.name == "Statement crash"
    parts = services.split_topic(workspace=workspace, actor=member, topic_id=topic.pk, parts=2)
    assert len(parts) == 2 and sum(p.message_count for p in parts) == 3 + moved
    assert all(p.label for p in parts)
    with pytest.raises(InvalidInput):
        services.merge_topics(
            workspace=workspace, actor=member, keep_id=topic.pk, absorb_id=topic.pk
        )


def test_api_trends_report_and_tenancy(workspace, flagged, lead, api, other_api):
    r = api.get("/api/v1/trends")
    assert r.status_code == 200 and [t["id"] for t in r.json()] == [flagged.pk]
    assert r.json()[0]["state"] == "emerging"
    r = api.get(f"/api/v1/trends/{flagged.pk}/report")
    assert r.status_code == 200 and r.json()["customers"]["count"] == 3
    md = api.get(f"/api/v1/trends/{flagged.pk}/report?format=markdown")
    assert md.status_code == 200 and md["Content-Type"].startswith("text/markdown")
    assert b"# Problem report" in md.content
    assert api.get(f"/api/v1/trends/{flagged.pk}/report?format=pdf").status_code == 422
    assert other_api.get(f"/api/v1/trends/{flagged.pk}").status_code == 404
    assert other_api.get(f"/api/v1/topics/{flagged.topic_id}").status_code == 404
    assert api.post_json(f"/api/v1/trends/{flagged.pk}/acknowledge").status_code == 200
    r = api.post_json(f"/api/v1/trends/{flagged.pk}/fix", {"summary": ""})
    assert r.status_code == 422
    r = api.post_json(f"/api/v1/trends/{flagged.pk}/fix", {"summary": "patched"})
    assert r.status_code == 200 and r.json()["state"] == "fixed"
    r = api.post_json(f"/api/v1/trends/{flagged.pk}/dismiss", {})
    assert r.status_code == 409
    r = api.patch_json(f"/api/v1/topics/{flagged.topic_id}", {"name": "Statement crash"})
    assert r.status_code == 200 and r.json()["display_name"] == "Statement crash"
    # Agents may not change thresholds; leads may.
    assert api.patch_json("/api/v1/trend-settings", {"rise_ratio": 4}).status_code == 403
    assert api.get("/api/v1/trend-settings").json()["new_topic_min_customers"] == 3


def test_trends_pages_in_the_agent_workspace(client, workspace, flagged, lead, other_workspace):
    client.force_login(lead.user)
    home = client.get("/trends/")
    assert home.status_code == 200 and f'href="/trends/{flagged.pk}/"' in home.content.decode()
    page = client.get(f"/trends/{flagged.pk}/")
    body = page.content.decode()
    assert page.status_code == 200 and CRASH[0] in body and "Representative messages" in body
    # Acknowledge, then record the fix from the page.
    client.post(f"/trends/{flagged.pk}/", {"action": "acknowledge"})
    client.post(f"/trends/{flagged.pk}/", {"action": "fix", "summary": "Patched the viewer"})
    flagged.refresh_from_db()
    assert flagged.state == TrendState.FIXED and flagged.fix_summary == "Patched the viewer"
    assert "Before and after the fix" in client.get(f"/trends/{flagged.pk}/").content.decode()
    # Preview of recipients before sending.
    preview = client.post(
        f"/trends/{flagged.pk}/", {"action": "preview", "template": "Hi {name}, fixed: {fix}"}
    )
    assert "3 will receive it, 0 skipped" in preview.content.decode()
    md = client.get(f"/trends/{flagged.pk}/report.md")
    assert md.status_code == 200 and md.content.startswith(b"# Problem report")
    # Topics page: rename through the form.
    client.post(
        f"/trends/topics/{flagged.topic_id}/", {"action": "rename", "name": "Statement crash"}
    )
    assert "Statement crash" in client.get("/trends/topics/").content.decode()
    # Another workspace's trend is a 404, and the menu links the page.
    other = Trend.objects.create(
        workspace=other_workspace,
        topic=Topic.objects.create(workspace=other_workspace),
        reason="new_topic",
        flagged_at=T0,
        first_seen_at=T0,
        last_seen_at=T0,
    )
    assert client.get(f"/trends/{other.pk}/").status_code == 404
    assert 'href="/trends/"' in home.content.decode()


def test_outreach_honours_the_care_opt_out_table(workspace, flagged):
    """A customer who opted out through a playbook (care's table) is not written to by a
    trend outreach either: one customer, one wish, whichever feature recorded it."""
    from warmline.proactive.care import services as care

    c1 = Customer.objects.get(workspace=workspace, name="Crash1")
    c2 = Customer.objects.get(workspace=workspace, name="Crash2")
    care.set_opt_out(workspace=workspace, customer_id=c1.pk, channel="all", opted_out=True)
    care.set_opt_out(workspace=workspace, customer_id=c2.pk, channel="email", opted_out=True)
    preview = services.preview_outreach(workspace=workspace, trend_id=flagged.pk, template="Hi")
    statuses = {r["customer_id"]: r["status"] for r in preview["recipients"]}
    assert statuses[c1.pk] == "opted_out" and statuses[c2.pk] == "opted_out"
    care.set_opt_out(workspace=workspace, customer_id=c2.pk, channel="email", opted_out=False)
    preview = services.preview_outreach(workspace=workspace, trend_id=flagged.pk, template="Hi")
    assert {r["customer_id"]: r["status"] for r in preview["recipients"]}[c2.pk] == "pending"
