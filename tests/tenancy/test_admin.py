"""The back office is scoped too: a workspace admin sees only their workspaces."""

import pytest

from warmline.customers.models import Customer

from ..factories import CustomerFactory, MemberFactory


@pytest.fixture
def staff_client(client, workspace):
    m = MemberFactory(workspace=workspace, role="admin")
    m.user.is_staff = True
    m.user.save()
    client.force_login(m.user)
    return client


def test_workspace_admin_lists_only_their_customers(staff_client, workspace, other_workspace):
    CustomerFactory(workspace=workspace, name="Ours")
    CustomerFactory(workspace=other_workspace, name="Theirs")
    r = staff_client.get("/admin/customers/customer/")
    assert r.status_code == 200
    assert b"Ours" in r.content and b"Theirs" not in r.content


@pytest.mark.parametrize(
    "path",
    [
        "/admin/customers/customer/{customer}/change/",
        "/admin/conversations/conversation/{conversation}/change/",
        "/admin/tenancy/workspace/{workspace}/change/",
    ],
)
def test_other_workspace_objects_are_absent_in_the_admin(staff_client, other_workspace, path):
    from ..factories import ConversationFactory

    c = CustomerFactory(workspace=other_workspace, name="Theirs")
    conv = ConversationFactory(customer=c, subject="Their secret case")
    r = staff_client.get(
        path.format(customer=c.pk, conversation=conv.pk, workspace=other_workspace.pk), follow=True
    )
    assert b"Theirs" not in r.content and b"Their secret case" not in r.content
    assert b"doesn" in r.content  # "... doesn't exist. Perhaps it was deleted?"


def test_non_staff_members_cannot_use_the_admin(client, member):
    client.force_login(member.user)
    assert client.get("/admin/customers/customer/").status_code == 302
    assert Customer.objects.count() == 0


def test_agents_who_are_staff_without_admin_role_see_nothing(client, workspace):
    m = MemberFactory(workspace=workspace, role="agent")
    m.user.is_staff = True
    m.user.save()
    client.force_login(m.user)
    assert client.get("/admin/customers/customer/").status_code == 403


def test_an_agent_membership_elsewhere_opens_nothing_there(client, workspace, other_workspace):
    """Admin of one brand, agent in another: the back office shows only the first."""
    m = MemberFactory(workspace=workspace, role="admin")
    MemberFactory(workspace=other_workspace, role="agent", user=m.user)
    m.user.is_staff = True
    m.user.save()
    client.force_login(m.user)
    CustomerFactory(workspace=workspace, name="Ours")
    CustomerFactory(workspace=other_workspace, name="Theirs")
    r = client.get("/admin/customers/customer/")
    assert b"Ours" in r.content and b"Theirs" not in r.content


def test_tokens_cannot_be_added_in_the_admin(staff_client):
    assert staff_client.get("/admin/tenancy/apitoken/add/").status_code == 403
