"""The actions API: status codes, one-click approvals, authority, profiles, tenancy."""

from __future__ import annotations

import pytest

from warmline.actions.models import ApprovalRequest, AuthorityProfile, EmpoweredAction
from warmline.tenancy.services import issue_token

from ..conftest import ApiClient
from ..factories import ConversationFactory, CustomerFactory, MemberFactory
from .test_authority import agent_profile, make_order


def client_for(member) -> ApiClient:
    return ApiClient(issue_token(member=member)[1])


@pytest.fixture
def conversation(workspace):
    return ConversationFactory(customer=CustomerFactory(workspace=workspace))


@pytest.fixture
def lead_api(lead):
    return client_for(lead)


@pytest.fixture
def admin_api(workspace):
    return client_for(MemberFactory(workspace=workspace, role="admin"))


def credit(api, conversation, amount, key="k1"):
    return api.post_json(
        "/api/v1/actions",
        {
            "conversation_id": conversation.pk,
            "action": "account_credit",
            "params": {"amount": amount, "reason": "late"},
            "idempotency_key": key,
        },
    )


def test_catalogue_lists_every_action_with_its_schema(api):
    r = api.get("/api/v1/actions/catalogue")
    assert r.status_code == 200
    codes = {a["code"]: a for a in r.json()}
    assert set(codes) == {
        "refund", "account_credit", "discount_code", "fee_waiver", "free_period", "replacement",
        "cancel_order", "modify_order", "return_items", "exchange_items", "change_address",
    }  # fmt: skip
    assert "amount" in codes["refund"]["params_schema"]["properties"]
    assert codes["refund"]["takes_order"] and not codes["change_address"]["gives_money"]


def test_post_executes_201_then_replays_the_same_result(api, member, conversation):
    agent_profile(member.workspace)
    r = credit(api, conversation, "20.00")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "executed" and body["amount"] == "20.00" and not body["replayed"]
    again = credit(api, conversation, "20.00")
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    assert again.json()["replayed"] is True
    assert EmpoweredAction.objects.count() == 1
    assert credit(api, conversation, "21.00").status_code == 409


def test_above_authority_202_and_a_lead_approves_in_one_click(api, lead_api, member, conversation):
    agent_profile(member.workspace)
    r = credit(api, conversation, "99.00")
    assert r.status_code == 202
    approval_id = r.json()["approval"]["id"]
    pending = lead_api.get("/api/v1/approvals?status=pending").json()
    assert [a["id"] for a in pending] == [approval_id]
    assert pending[0]["action"]["amount"] == "99.00"
    assert api.post_json(f"/api/v1/approvals/{approval_id}/approve").status_code == 403
    r = lead_api.post_json(f"/api/v1/approvals/{approval_id}/approve", {"note": "fine"})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "approved" and r.json()["action"]["status"] == "executed"
    assert lead_api.post_json(f"/api/v1/approvals/{approval_id}/deny").status_code == 409
    assert lead_api.get("/api/v1/approvals?status=pending").json() == []


def test_deny_in_one_click(api, lead_api, member, conversation):
    r = credit(api, conversation, "5.00")
    approval_id = r.json()["approval"]["id"]
    r = lead_api.post(f"/api/v1/approvals/{approval_id}/deny")
    assert r.status_code == 200, r.content
    assert r.json()["action"]["status"] == "denied"


def test_policy_refusal_is_403(api, member, conversation):
    order = make_order(conversation, status="delivered")
    r = api.post_json(
        "/api/v1/actions",
        {
            "conversation_id": conversation.pk,
            "action": "cancel_order",
            "params": {"order_id": order.pk, "reason": "no longer needed"},
            "idempotency_key": "c1",
        },
    )
    assert r.status_code == 403 and r.json()["code"] == "policy_denied"


@pytest.mark.parametrize(
    ("action", "params", "field"),
    [
        ("account_credit", {"amount": "abc", "reason": "x"}, "params.amount"),
        ("account_credit", {"amount": "5"}, "params.reason"),
        ("account_credit", {"amount": "5", "reason": "x", "bonus": 1}, "params.bonus"),
        ("free_period", {"subscription": "s", "days": 0, "reason": "x"}, "params.days"),
        ("change_address", {"address": {"city": "X"}}, "params.address.address1"),
        ("modify_order", {"order_id": 1}, "params"),
        ("nope", {}, "action"),
    ],
)
def test_bad_params_are_422_naming_the_field(api, conversation, action, params, field):
    r = api.post_json(
        "/api/v1/actions",
        {"conversation_id": conversation.pk, "action": action, "params": params,
         "idempotency_key": "x"},
    )  # fmt: skip
    assert r.status_code == 422, r.content
    assert r.json()["detail"][0]["loc"] == ["body", field]


def test_missing_idempotency_key_is_422(api, conversation):
    r = api.post_json(
        "/api/v1/actions",
        {"conversation_id": conversation.pk, "action": "account_credit", "params": {}},
    )
    assert r.status_code == 422
    assert "idempotency_key" in r.json()["detail"][0]["loc"]


def test_my_authority_shows_limits_and_todays_usage(api, member, conversation):
    agent_profile(member.workspace, daily_cap="100.00")
    credit(api, conversation, "20.00")
    r = api.get("/api/v1/authority")
    assert r.status_code == 200
    body = r.json()
    assert body["source"] == "role" and body["limits"]["refund"] == "50.00"
    assert body["used_today"] == "20.00" and body["remaining_today"] == "80.00"
    assert body["actions_today"] == 1 and body["currency"] == "USD"


def test_admins_manage_profiles_and_others_get_403(admin_api, api, member):
    r = admin_api.post_json(
        "/api/v1/authority/profiles",
        {"member_id": member.pk, "limits": {"refund": "75.5"}, "daily_cap": 300},
    )
    assert r.status_code == 201, r.content
    profile = r.json()
    assert profile["limits"] == {"refund": "75.50"} and profile["daily_cap"] == "300.00"
    pid = profile["id"]
    assert admin_api.get(f"/api/v1/authority/profiles/{pid}").status_code == 200
    r = admin_api.patch_json(f"/api/v1/authority/profiles/{pid}", {"daily_cap": None})
    assert r.status_code == 200 and r.json()["daily_cap"] is None
    assert api.get("/api/v1/authority/profiles").status_code == 403
    assert (
        api.post_json("/api/v1/authority/profiles", {"role": "agent", "limits": {}}).status_code
        == 403
    )
    r = admin_api.post_json("/api/v1/authority/profiles", {"role": "agent", "limits": {"x": "1"}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "limits.x"]
    assert admin_api.delete(f"/api/v1/authority/profiles/{pid}").status_code == 204
    assert not AuthorityProfile.objects.exists()


def test_another_workspace_gets_404_on_every_endpoint(
    api, other_api, other_workspace, conversation, workspace
):
    agent_profile(workspace)
    action_id = credit(api, conversation, "5.00").json()["id"]
    approval_id = credit(api, conversation, "500.00", key="big").json()["approval"]["id"]
    profile_id = AuthorityProfile.objects.get().pk
    order = make_order(conversation)
    assert other_api.get(f"/api/v1/actions/{action_id}").status_code == 404
    assert other_api.get(f"/api/v1/actions?conversation_id={conversation.pk}").status_code == 404
    assert other_api.get(f"/api/v1/approvals/{approval_id}").status_code == 404
    assert other_api.post_json(f"/api/v1/approvals/{approval_id}/approve").status_code == 404
    assert other_api.post_json(f"/api/v1/approvals/{approval_id}/deny").status_code == 404
    assert other_api.get(f"/api/v1/authority/profiles/{profile_id}").status_code == 404
    assert other_api.patch_json(f"/api/v1/authority/profiles/{profile_id}", {}).status_code == 404
    assert other_api.delete(f"/api/v1/authority/profiles/{profile_id}").status_code == 404
    assert other_api.get("/api/v1/approvals").json() == []
    assert other_api.get("/api/v1/actions").json() == []
    assert other_api.get("/api/v1/authority/profiles").json() == []
    r = other_api.post_json(
        "/api/v1/actions",
        {"conversation_id": conversation.pk, "action": "account_credit",
         "params": {"amount": "1", "reason": "x"}, "idempotency_key": "o1"},
    )  # fmt: skip
    assert r.status_code == 404
    # Our order named from their own conversation is as absent as a missing one.
    other_conv = ConversationFactory(customer=CustomerFactory(workspace=other_workspace))
    r = other_api.post_json(
        "/api/v1/actions",
        {"conversation_id": other_conv.pk, "action": "refund",
         "params": {"order_id": order.pk, "reason": "x"}, "idempotency_key": "k1"},
    )  # fmt: skip
    assert r.status_code == 404 and r.json()["field"] == "params.order_id"
    assert ApprovalRequest.objects.get(pk=approval_id).status == "pending"
