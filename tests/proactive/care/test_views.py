"""The care pages: leads edit playbooks, everyone sees the dry run, outcomes, follow-ups,
the health report and the 360° panel section; another workspace's ids answer 404."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from tests.factories import CustomerFactory, MemberFactory
from tests.proactive.care.conftest import NOW
from warmline.customers.models import CustomerEvent
from warmline.proactive.care import services
from warmline.proactive.care.models import CareSettings, FollowUp, OptOut, Playbook

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


def _client(member) -> Client:
    c = Client()
    assert c.login(username=member.user.username, password=PASSWORD)
    return c


@pytest.fixture
def lead_client(lead):
    return _client(lead)


@pytest.fixture
def agent_client(owner):
    return _client(owner)


FORM = {
    "name": "Delivered check-in",
    "description": "",
    "is_active": "on",
    "trigger": "event",
    "event_type": "order_delivered",
    "days": "0",
    "threshold": "",
    "date_label": "",
    "tiers": ["gold"],
    "languages": "es, EN",
    "ltv_min": "",
    "ltv_max": "",
    "tags": "vip",
    "attributes": "plan=pro",
    "message_subject": "",
    "message_body": "Hola {first_name}",
    "task_text": "Call",
    "task_due_days": "1",
    "incentive": "",
    "incentive_amount": "",
    "note_text": "",
}


def test_lead_creates_and_edits_a_playbook(lead_client, workspace, owner):
    response = lead_client.post(reverse("care:playbook_new"), {**FORM, "owners": [owner.pk]})
    assert response.status_code == 302
    pb = Playbook.objects.get(workspace=workspace)
    assert pb.tiers == ["gold"] and pb.languages == ["es", "en"] and pb.tags == ["vip"]
    assert pb.attributes == {"plan": "pro"} and list(pb.owners.all()) == [owner]
    page = lead_client.get(reverse("care:playbook_edit", args=[pb.pk])).content.decode()
    assert "plan=pro" in page and 'value="es, en"' in page
    response = lead_client.post(
        reverse("care:playbook_edit", args=[pb.pk]), {**FORM, "event_type": "renewal_due"}
    )
    pb.refresh_from_db()
    assert response.status_code == 302 and pb.event_type == "renewal_due"


def test_a_bad_playbook_is_refused_naming_the_field(lead_client, workspace):
    response = lead_client.post(reverse("care:playbook_new"), {**FORM, "event_type": ""})
    assert response.status_code == 422
    assert "Name the business event" in response.content.decode()
    response = lead_client.post(
        reverse("care:playbook_new"), {**FORM, "message_body": "Hi {surname}"}
    )
    assert response.status_code == 422 and "Unknown placeholder" in response.content.decode()
    assert not Playbook.objects.exists()


def test_agents_cannot_edit_playbooks(agent_client, workspace):
    assert agent_client.get(reverse("care:playbook_new")).status_code == 403
    assert agent_client.post(reverse("care:playbook_new"), FORM).status_code == 403
    assert agent_client.get(reverse("care:settings")).status_code == 403
    assert not Playbook.objects.exists()


def test_dry_run_page_and_outcomes_report(agent_client, workspace, make_customer, make_playbook):
    c = make_customer(name="Carla Díaz")
    pb = make_playbook("event", event_type="order_delivered")
    CustomerEvent.objects.create(
        workspace=workspace, customer=c, type="order_delivered", occurred_at=NOW
    )
    with time_machine.travel(NOW, tick=False):
        page = agent_client.get(reverse("care:playbook_dry_run", args=[pb.pk])).content.decode()
        assert "Carla Díaz" in page and "order_delivered on 2026-03-10" in page
        assert "Would be contacted (1)" in page
        services.run_playbooks(workspace=workspace, now=NOW)
        report = agent_client.get(reverse("care:playbooks")).content.decode()
    row = report.split(f'data-playbook="{pb.pk}"')[1].split("</tr>")[0]
    assert "<td>1</td>" in row  # contacted


def test_my_follow_ups_due_today_overdue_done(agent_client, workspace, owner, make_customer):
    c = make_customer()
    for text, due in (("today", NOW + dt.timedelta(hours=2)), ("late", NOW - dt.timedelta(days=2))):
        FollowUp.objects.create(
            workspace=workspace, member=owner, customer=c, text=text, due_at=due
        )
    done = FollowUp.objects.create(
        workspace=workspace, member=owner, customer=c, text="finished", due_at=NOW, done_at=NOW
    )
    theirs = FollowUp.objects.create(
        workspace=workspace,
        member=MemberFactory(workspace=workspace),
        customer=c,
        text="someone else's",
        due_at=NOW,
    )
    from tests.factories import ConversationFactory
    from warmline.feedback.models import RecoveryTask

    recovery = RecoveryTask.objects.create(
        workspace=workspace,
        member=owner,
        customer=c,
        conversation=ConversationFactory(customer=c),
        reason="Detractor answer (NPS 2)",
        due_at=NOW + dt.timedelta(hours=3),
    )
    with time_machine.travel(NOW, tick=False):
        page = agent_client.get(reverse("care:follow_ups")).content.decode()
        tasks = services.my_follow_ups(member=owner)
    assert [t.text for t in tasks.due_today] == ["today", "Detractor answer (NPS 2)"]
    assert "survey recovery" in page
    agent_client.post(reverse("care:recovery_done", args=[recovery.pk]))
    recovery.refresh_from_db()
    assert recovery.done_at is not None
    assert [t.text for t in tasks.overdue] == ["late"] and [t.pk for t in tasks.done] == [done.pk]
    assert "Overdue (1)" in page and "Due today (2)" in page and "Done (1)" in page
    assert "someone else" not in page
    late = FollowUp.objects.get(text="late")
    agent_client.post(reverse("care:follow_up_done", args=[late.pk]))
    late.refresh_from_db()
    assert late.done_at is not None
    assert agent_client.post(reverse("care:follow_up_done", args=[theirs.pk])).status_code == 404


def test_panel_shows_score_components_and_arrow(agent_client, workspace, make_customer):
    c = make_customer(customer_since=(NOW - dt.timedelta(days=73)).date())
    with time_machine.travel(NOW, tick=False):
        services.recompute_health(workspace=workspace, now=NOW)
        page = agent_client.get(reverse("care:panel", args=[c.pk])).content.decode()
    assert 'data-health="90"' in page and "higher is healthier" in page
    assert 'data-component="tenure"' in page and "customer for 73 days" in page
    assert "no data" in page  # sentiment, surveys and recency have none
    assert "steady" in page


def test_conversation_panel_loads_the_care_section(agent_client, workspace, make_customer):
    from tests.factories import ConversationFactory

    c = make_customer()
    conv = ConversationFactory(customer=c)
    page = agent_client.get(reverse("web:conversation", args=[conv.number])).content.decode()
    assert reverse("care:panel", args=[c.pk]) in page
    assert reverse("care:follow_ups") in page  # the nav link


def test_opt_out_from_the_panel(agent_client, workspace, make_customer):
    c = make_customer()
    url = reverse("care:opt_out", args=[c.pk])
    agent_client.post(url, {"channel": "email", "opted_out": "1"})
    assert list(OptOut.objects.filter(customer=c).values_list("channel", flat=True)) == ["email"]
    assert agent_client.post(url, {"channel": "fax", "opted_out": "1"}).status_code == 422
    agent_client.post(url, {"channel": "email", "opted_out": "0"})
    assert not OptOut.objects.filter(customer=c).exists()


def test_lead_tunes_weights_and_quiet_hours(lead_client, workspace):
    data = {
        "weekly_cap": "3",
        "quiet_start": "22:00",
        "quiet_end": "07:30",
        "w_sentiment": "30",
        "w_issues": "15",
        "w_contacts": "10",
        "w_surveys": "20",
        "w_recency": "20",
        "w_escalations": "0",
        "w_tenure": "5",
    }
    assert lead_client.post(reverse("care:settings"), data).status_code == 302
    cfg = CareSettings.objects.get(workspace=workspace)
    assert cfg.weekly_cap == 3 and cfg.quiet_end == dt.time(7, 30)
    assert cfg.health["weights"]["sentiment"] == 30 and cfg.health["weights"]["escalations"] == 0


def test_health_report(agent_client, workspace, make_customer):
    make_customer(customer_since=(NOW - dt.timedelta(days=73)).date())
    with time_machine.travel(NOW, tick=False):
        services.recompute_health(workspace=workspace, now=NOW)
        page = agent_client.get(reverse("care:health_report")).content.decode()
    assert "higher is healthier" in page and "90.0" in page


def test_other_workspaces_ids_answer_404(agent_client, other_workspace, make_playbook):
    stranger = CustomerFactory(workspace=other_workspace)
    lead = MemberFactory(workspace=other_workspace, role="lead")
    theirs = services.save_playbook(
        workspace=other_workspace,
        actor=lead,
        data={"name": "x", "trigger": "detractor", "message_body": "hi"},
    )
    for url in (
        reverse("care:playbook_dry_run", args=[theirs.pk]),
        reverse("care:panel", args=[stranger.pk]),
    ):
        assert agent_client.get(url).status_code == 404
    assert (
        agent_client.post(
            reverse("care:opt_out", args=[stranger.pk]), {"channel": "email", "opted_out": "1"}
        ).status_code
        == 404
    )
