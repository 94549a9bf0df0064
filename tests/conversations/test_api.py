import pytest

from warmline.conversations.models import Conversation, TimelineEntry

MSG = {
    "channel": "email",
    "external_id": "<m1@mail.example>",
    "from": {"email": "Ana@Example.com", "name": "Ana López"},
    "subject": "Refund",
    "text": "I was charged twice for order W123.",
    "sent_at": "2026-01-05T10:00:00Z",
}


def test_health_needs_no_auth(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_post_message_201_then_200_with_the_same_body(api):
    first = api.post_json("/api/v1/messages", MSG)
    assert first.status_code == 201, first.content
    body = first.json()
    assert {"id", "conversation_id", "customer_id"} <= body.keys()
    again = api.post_json("/api/v1/messages", MSG)
    assert again.status_code == 200 and again.json() == body
    assert TimelineEntry.objects.count() == 1


def test_conversation_read_returns_the_timeline(api):
    body = api.post_json("/api/v1/messages", MSG).json()
    r = api.get(f"/api/v1/conversations/{body['conversation_id']}")
    assert r.status_code == 200
    data = r.json()
    assert data["status"] == "open" and data["subject"] == "Refund"
    assert [e["kind"] for e in data["timeline"]] == ["customer_message"]
    assert data["timeline"][0]["text"] == MSG["text"]


def test_requests_without_credentials_get_401(client, db):
    assert client.post("/api/v1/messages", MSG, content_type="application/json").status_code == 401
    assert client.get("/api/v1/customers").status_code == 401
    bad = client.get("/api/v1/customers", headers={"Authorization": "Bearer wl_nope"})
    assert bad.status_code == 401


@pytest.mark.parametrize(
    "change, field",
    [
        ({"channel": "fax"}, "channel"),
        ({"text": ""}, "text"),
        ({"from": {"name": "nobody"}}, "from"),
        ({"from": {"email": "not-an-email"}}, "email"),
        ({"sent_at": "2026-01-05T10:00:00"}, "sent_at"),
        ({"sent_at": "yesterday"}, "sent_at"),
    ],
)
def test_bad_messages_get_422_naming_the_field(api, change, field):
    r = api.post_json("/api/v1/messages", {**MSG, **change})
    assert r.status_code == 422, r.content
    locs = [err["loc"] for err in r.json()["detail"]]
    assert any(field in loc for loc in locs), locs
    assert TimelineEntry.objects.count() == 0


def test_422_names_every_bad_field_at_once(api):
    r = api.post_json("/api/v1/messages", {**MSG, "channel": "fax", "text": ""})
    fields = {err["loc"][-1] for err in r.json()["detail"]}
    assert {"channel", "text"} <= fields


def test_bulk_ingest_reports_per_message(api):
    msgs = [{**MSG, "external_id": f"b{i}", "text": f"message {i}"} for i in range(5)]
    msgs.append({**MSG, "external_id": "b0", "text": "message 0"})
    msgs.append({**MSG, "external_id": "b9", "from": {"phone": "+999 123456"}})
    r = api.post_json("/api/v1/messages/bulk", {"messages": msgs})
    assert r.status_code == 200, r.content
    data = r.json()
    assert (data["created"], data["duplicates"], data["errors"]) == (5, 1, 1)
    assert data["results"][6]["status"] == "error" and data["results"][6]["field"] == "phone"
    # All five landed in the same conversation for the same customer (within the window).
    assert Conversation.objects.count() == 1


def test_bulk_refuses_more_than_1000(api):
    msgs = [{**MSG, "external_id": f"b{i}"} for i in range(1001)]
    r = api.post_json("/api/v1/messages/bulk", {"messages": msgs})
    assert r.status_code == 422


def test_update_conversation_records_timeline_entries(api, member, lead):
    body = api.post_json("/api/v1/messages", MSG).json()
    url = f"/api/v1/conversations/{body['conversation_id']}"
    r = api.patch_json(url, {"owner_id": member.pk, "priority": "high"})
    assert r.status_code == 200 and r.json()["owner_id"] == member.pk
    r = api.patch_json(url, {"owner_id": lead.pk, "reason": "billing specialist"})
    assert r.json()["handoff_count"] == 1
    r = api.patch_json(url, {"status": "resolved"})
    assert r.json()["status"] == "resolved" and r.json()["resolved_at"]
    kinds = [e["kind"] for e in api.get(url).json()["timeline"]]
    assert kinds == [
        "customer_message",
        "priority_change",
        "assignment",
        "assignment",
        "status_change",
    ]
    assert api.patch_json(url, {"status": "lost"}).status_code == 422


def test_reply_sets_first_response_and_stops_the_wait(api):
    body = api.post_json("/api/v1/messages", MSG).json()
    url = f"/api/v1/conversations/{body['conversation_id']}"
    r = api.post_json(url + "/replies", {"text": "Sorry Ana, refunding now."})
    assert r.status_code == 201 and r.json()["channel"] == "email"
    conv = api.get(url).json()
    assert conv["first_response_at"] and conv["waiting_since"] is None


def test_list_conversations_filters(api, member):
    a = api.post_json("/api/v1/messages", MSG).json()
    api.post_json(
        "/api/v1/messages",
        {**MSG, "external_id": "s1", "channel": "sms", "from": {"phone": "+14155550100"}},
    )
    api.patch_json(f"/api/v1/conversations/{a['conversation_id']}", {"owner_id": member.pk})
    assert len(api.get("/api/v1/conversations").json()["items"]) == 2
    assert [
        c["id"] for c in api.get(f"/api/v1/conversations?owner_id={member.pk}").json()["items"]
    ] == [a["conversation_id"]]
    assert len(api.get("/api/v1/conversations?channel=sms").json()["items"]) == 1
    assert len(api.get("/api/v1/conversations?unassigned=true").json()["items"]) == 1
    assert api.get("/api/v1/conversations?status=bogus").status_code == 422


def test_customer_crud_search_and_merge(api):
    r = api.post_json(
        "/api/v1/customers",
        {
            "name": "Marta",
            "tier": "gold",
            "identities": [{"kind": "email", "value": "marta@example.es"}],
        },
    )
    assert r.status_code == 201, r.content
    marta = r.json()
    assert marta["identities"][0]["value"] == "marta@example.es"
    other = api.post_json(
        "/api/v1/customers", {"identities": [{"kind": "phone", "value": "+34911222333"}]}
    ).json()
    assert api.get("/api/v1/customers?q=marta@example.es").json()["items"][0]["id"] == marta["id"]
    r = api.patch_json(
        f"/api/v1/customers/{marta['id']}", {"notes": "Prefers mornings", "tier": "platinum"}
    )
    assert r.json()["tier"] == "platinum"
    assert (
        api.patch_json(f"/api/v1/customers/{marta['id']}", {"tier": "diamond"}).status_code == 422
    )
    preview = api.get(
        f"/api/v1/customers/{marta['id']}/merge-preview?other_id={other['id']}"
    ).json()
    assert preview["moves"]["identities"] == 1
    merged = api.post_json(
        f"/api/v1/customers/{marta['id']}/merge", {"other_id": other["id"]}
    ).json()
    assert {i["kind"] for i in merged["identities"]} == {"email", "phone"}
    assert api.get(f"/api/v1/customers/{other['id']}").status_code == 404


def test_identities_events_and_orders(api):
    c = api.post_json("/api/v1/customers", {"name": "Li"}).json()
    base = f"/api/v1/customers/{c['id']}"
    assert (
        api.post_json(base + "/identities", {"kind": "phone", "value": "+14155550100"}).status_code
        == 201
    )
    assert api.post_json(base + "/identities", {"kind": "email", "value": "bad"}).status_code == 422
    ev = {
        "customer_id": c["id"],
        "type": "purchase",
        "value": "19.90",
        "currency": "EUR",
        "external_id": "e1",
    }
    assert api.post_json("/api/v1/events", ev).status_code == 201
    assert api.post_json("/api/v1/events", ev).status_code == 200
    bulk = api.post_json(
        "/api/v1/events/bulk",
        {"events": [{"customer": {"email": "new@example.com"}, "type": "login"}, ev]},
    ).json()
    assert (bulk["created"], bulk["existing"]) == (1, 1)
    order = {
        "customer_id": c["id"],
        "status": "delivered",
        "total": "59.00",
        "currency": "EUR",
        "items": [{"sku": "A"}],
    }
    assert api.put_json("/api/v1/orders/W-1", order).status_code == 201
    r = api.put_json("/api/v1/orders/W-1", {**order, "status": "returned"})
    assert r.status_code == 200 and r.json()["status"] == "returned"
    assert api.get(base).json()["lifetime_value"] == "59.00"
    assert len(api.get(base + "/events").json()) == 1
