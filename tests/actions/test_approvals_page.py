"""The approvals queue page: the lead's notification links to it, one click decides."""

from __future__ import annotations

from warmline.actions.models import ActionStatus, ApprovalStatus, EmpoweredAction
from warmline.tenancy.models import Notification

from .test_authority import conversation, pending  # noqa: F401 - fixtures


def test_a_lead_approves_from_the_page_in_one_click(lead, pending, client):  # noqa: F811
    note = Notification.objects.get(member=lead, kind="approval_requested")
    assert note.link == f"/actions/approvals/#a{pending.pk}"
    client.force_login(lead.user)
    page = client.get("/actions/approvals/").content.decode()
    assert f'data-approval="{pending.pk}"' in page and "Refund of 80.00 USD" in page
    r = client.post(f"/actions/approvals/{pending.pk}/approve/")
    assert r.status_code == 302 and r.url == "/actions/approvals/"
    pending.refresh_from_db()
    assert pending.status == ApprovalStatus.APPROVED and pending.decided_by == lead
    assert EmpoweredAction.objects.get(pk=pending.action_id).status == ActionStatus.EXECUTED
    page = client.get("/actions/approvals/").content.decode()
    assert f'data-approval="{pending.pk}"' not in page


def test_deny_in_one_click_and_agents_cannot_decide(pending, member, lead, client):  # noqa: F811
    client.force_login(member.user)
    page = client.get("/actions/approvals/").content.decode()
    assert "Only team leads and admins" in page and "<button" not in page.split("<tbody>")[1]
    client.post(f"/actions/approvals/{pending.pk}/approve/")
    pending.refresh_from_db()
    assert pending.status == ApprovalStatus.PENDING
    client.force_login(lead.user)
    client.post(f"/actions/approvals/{pending.pk}/deny/")
    pending.refresh_from_db()
    assert pending.status == ApprovalStatus.DENIED
    assert EmpoweredAction.objects.get(pk=pending.action_id).status != ActionStatus.EXECUTED


def test_another_workspaces_approval_is_404(pending, client):  # noqa: F811
    from ..factories import MemberFactory, WorkspaceFactory

    outsider = MemberFactory(workspace=WorkspaceFactory(), role="lead")
    client.force_login(outsider.user)
    assert client.post(f"/actions/approvals/{pending.pk}/approve/").status_code == 404
    pending.refresh_from_db()
    assert pending.status == ApprovalStatus.PENDING
