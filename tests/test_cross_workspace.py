"""Another workspace's objects answer 404 — never 403, never their data — for every resource."""

import pytest

from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.services import ingest
from warmline.customers.services import create_customer, upsert_order
from warmline.tenancy.models import Member

from .factories import MemberFactory


@pytest.fixture
def foreign(other_workspace):
    """Objects that belong to the other workspace."""
    admin = Member.objects.filter(workspace=other_workspace).first() or MemberFactory(
        workspace=other_workspace
    )
    customer = create_customer(
        workspace=other_workspace,
        actor=admin,
        identities=[("email", "secret@globex.example")],
        name="Secret",
    )
    r = ingest(
        workspace=other_workspace,
        message=InboundMessage(
            channel="email", text="private", sender=Sender(email="secret@globex.example")
        ),
    )
    order, _ = upsert_order(workspace=other_workspace, customer=customer, external_id="G-1")
    ident = customer.identities.first()
    return {
        "customer": customer.pk,
        "conversation": r.conversation.pk,
        "order": order.external_id,
        "identity": ident.pk,
        "member": admin.pk,
    }


REQUESTS = [
    ("get", "/api/v1/customers/{customer}", None),
    ("patch", "/api/v1/customers/{customer}", {"name": "x"}),
    ("get", "/api/v1/customers/{customer}/identities", None),
    ("post", "/api/v1/customers/{customer}/identities", {"kind": "email", "value": "z@z.co"}),
    ("delete", "/api/v1/customers/{customer}/identities/{identity}", None),
    ("get", "/api/v1/customers/{customer}/events", None),
    ("get", "/api/v1/customers/{customer}/merge-preview?other_id={customer}", None),
    ("post", "/api/v1/customers/{customer}/merge", {"other_id": "{customer}"}),
    ("post", "/api/v1/events", {"customer_id": "{customer}", "type": "login"}),
    ("put", "/api/v1/orders/x-1", {"customer_id": "{customer}"}),
    ("get", "/api/v1/orders/{order}", None),
    ("get", "/api/v1/conversations/{conversation}", None),
    ("patch", "/api/v1/conversations/{conversation}", {"status": "resolved"}),
    ("post", "/api/v1/conversations/{conversation}/replies", {"text": "hi"}),
    ("post", "/api/v1/conversations/{conversation}/notes", {"text": "hi"}),
    ("post", "/api/v1/conversations/{conversation}/merge", {"other_id": "{conversation}"}),
    (
        "post",
        "/api/v1/messages",
        {
            "channel": "email",
            "text": "x",
            "from": {"email": "a@b.co"},
            "thread": {"conversation_id": "{conversation}"},
        },
    ),
]


def _fill(value, ids):
    if isinstance(value, str):
        for k, v in ids.items():
            if value == "{" + k + "}":
                return v
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("method, path, body", REQUESTS, ids=[f"{m} {p}" for m, p, _ in REQUESTS])
def test_other_workspace_objects_are_not_found(api, foreign, method, path, body):
    url = path.format(**foreign)
    kwargs = (
        {"content_type": "application/json", "data": _fill(body, foreign)}
        if body is not None
        else {}
    )
    r = getattr(api, method)(url, **kwargs)
    if path == "/api/v1/messages":
        # A thread hint into another workspace is ignored: a new case in our own workspace.
        assert r.status_code == 201
        assert r.json()["conversation_id"] != foreign["conversation"]
        return
    assert r.status_code == 404, (url, r.status_code, r.content)
    assert b"Secret" not in r.content and b"private" not in r.content


def test_patch_with_another_workspaces_member_or_team_is_404(api, member, foreign):
    r = ingest(
        workspace=member.workspace,
        message=InboundMessage(
            channel="email", text="mine", sender=Sender(email="me@acme.example")
        ),
    )
    url = f"/api/v1/conversations/{r.conversation.pk}"
    assert (
        api.patch(url, {"owner_id": foreign["member"]}, content_type="application/json").status_code
        == 404
    )


@pytest.fixture
def mine(member):
    """Our own customer and conversation, to point at the other workspace's objects from."""
    r = ingest(
        workspace=member.workspace,
        message=InboundMessage(
            channel="email", text="mine", sender=Sender(email="me@acme.example")
        ),
    )
    return {"customer": r.customer.pk, "conversation": r.conversation.pk}


# Requests on our own objects that name another workspace's object in the body or query.
REFERENCES = [
    ("post", "/api/v1/customers/{mine_customer}/merge", {"other_id": "{customer}"}),
    ("get", "/api/v1/customers/{mine_customer}/merge-preview?other_id={customer}", None),
    ("delete", "/api/v1/customers/{mine_customer}/identities/{identity}", None),
    ("patch", "/api/v1/customers/{mine_customer}", {"owner_id": "{member}"}),
    ("post", "/api/v1/customers", {"name": "New", "owner_id": "{member}"}),
    ("post", "/api/v1/events/bulk", {"events": [{"customer_id": "{customer}", "type": "x"}]}),
    ("post", "/api/v1/conversations/{mine_conversation}/merge", {"other_id": "{conversation}"}),
    ("patch", "/api/v1/conversations/{mine_conversation}", {"team_id": "{team}"}),
]


@pytest.mark.parametrize(
    "method, path, body", REFERENCES, ids=[f"{m} {p}" for m, p, _ in REFERENCES]
)
def test_naming_another_workspaces_object_is_not_found(api, foreign, mine, method, path, body):
    from warmline.customers.models import Customer, CustomerEvent, Identity
    from warmline.tenancy.models import Team

    team = Team.objects.create(
        workspace_id=Customer.objects.get(pk=foreign["customer"]).workspace_id, name="Their team"
    )
    ids = {
        **foreign,
        "team": team.pk,
        "mine_customer": mine["customer"],
        "mine_conversation": mine["conversation"],
    }
    before = (
        Customer.objects.count(),
        Identity.objects.filter(pk=foreign["identity"]).count(),
        CustomerEvent.objects.count(),
    )
    url = path.format(**ids)
    kwargs = (
        {"content_type": "application/json", "data": _fill(body, ids)} if body is not None else {}
    )
    r = getattr(api, method)(url, **kwargs)
    assert r.status_code == 404, (url, r.status_code, r.content)
    assert b"Secret" not in r.content and b"private" not in r.content
    after = (
        Customer.objects.count(),
        Identity.objects.filter(pk=foreign["identity"]).count(),
        CustomerEvent.objects.count(),
    )
    assert after == before  # nothing created, moved or deleted


def test_a_session_cannot_pick_a_workspace_it_is_not_a_member_of(client, member, foreign):
    client.force_login(member.user)
    assert client.get("/api/v1/customers").status_code == 200
    r = client.get("/api/v1/customers", headers={"X-Workspace": "globex"})
    assert r.status_code == 401
    assert b"Secret" not in r.content


def test_merge_suggestions_stay_in_their_workspace(api, foreign):
    from warmline.customers.models import Customer, MergeSuggestion

    theirs = Customer.objects.get(pk=foreign["customer"])
    other = create_customer(
        workspace=theirs.workspace, actor=None, identities=[("phone", "+14155550199")]
    )
    MergeSuggestion.objects.create(
        workspace=theirs.workspace, customer=theirs, other=other, reason="x"
    )
    assert api.get("/api/v1/merge-suggestions").json() == []


def test_lists_never_include_other_workspaces(api, foreign):
    assert api.get("/api/v1/customers").json()["items"] == []
    assert api.get("/api/v1/conversations").json()["items"] == []
    assert api.get("/api/v1/orders").json() == []
    assert api.get("/api/v1/customers?q=secret@globex.example").json()["items"] == []
