from decimal import Decimal

import pytest

from warmline.conversations.inbound import InboundMessage, Sender
from warmline.conversations.models import Conversation
from warmline.conversations.services import ingest
from warmline.customers import services
from warmline.customers.models import Customer, CustomerEvent, Identity, MergeSuggestion, Order
from warmline.tenancy.models import AuditEntry


def claims(ws, **kw):
    return services.claims_from(ws, list(kw.items()))


def test_unknown_identities_create_one_customer(workspace):
    res = services.resolve_customer(
        workspace=workspace,
        claims=claims(workspace, email="ana@example.com", phone="+34600111222"),
        name="Ana",
    )
    assert res.created
    assert res.customer.name == "Ana"
    assert sorted(
        Identity.objects.filter(customer=res.customer).values_list("kind", flat=True)
    ) == [
        "email",
        "phone",
    ]


def test_a_new_identity_attaches_to_the_matched_customer(workspace):
    first = services.resolve_customer(
        workspace=workspace, claims=claims(workspace, email="ana@example.com")
    )
    second = services.resolve_customer(
        workspace=workspace,
        claims=claims(workspace, email="ANA@example.com", phone="+34 600 111 222"),
    )
    assert not second.created
    assert second.customer.pk == first.customer.pk
    assert Identity.objects.filter(
        customer=first.customer, kind="phone", value="+34600111222"
    ).exists()


def test_identities_of_two_customers_are_never_merged_silently(workspace):
    a = services.resolve_customer(
        workspace=workspace, claims=claims(workspace, email="ana@example.com")
    )
    b = services.resolve_customer(
        workspace=workspace, claims=claims(workspace, phone="+34600111222")
    )
    res = services.resolve_customer(
        workspace=workspace, claims=claims(workspace, email="ana@example.com", phone="+34600111222")
    )
    # The email is the stronger match; the phone stays where it was; an agent decides.
    assert res.customer.pk == a.customer.pk
    assert Customer.objects.filter(workspace=workspace).count() == 2
    assert Identity.objects.get(kind="phone").customer_id == b.customer.pk
    sugg = MergeSuggestion.objects.get()
    assert (sugg.customer_id, sugg.other_id) == (a.customer.pk, b.customer.pk)


def test_identities_are_unique_per_workspace_not_globally(workspace, other_workspace):
    a = services.resolve_customer(
        workspace=workspace, claims=claims(workspace, email="ana@example.com")
    )
    b = services.resolve_customer(
        workspace=other_workspace, claims=claims(other_workspace, email="ana@example.com")
    )
    assert b.created and a.customer.pk != b.customer.pk


def test_merge_moves_everything_and_is_audited(workspace, member):
    keep = services.create_customer(
        workspace=workspace, actor=member, identities=[("email", "ana@example.com")], name="Ana"
    )
    other = services.create_customer(
        workspace=workspace,
        actor=member,
        identities=[("phone", "+34600111222")],
        notes="VIP caller",
    )
    ingest(
        workspace=workspace,
        message=InboundMessage(channel="sms", text="Hola", sender=Sender(phone="+34600111222")),
    )
    services.upsert_order(
        workspace=workspace, customer=other, external_id="W1", total=Decimal("40.00")
    )
    services.record_events(workspace=workspace, events=[{"customer": other, "type": "login"}])
    preview = services.merge_preview(workspace=workspace, keep=keep, other=other)
    assert preview == {"identities": 1, "conversations": 1, "events": 1, "orders": 1}

    other_pk = other.pk
    services.merge_customers(workspace=workspace, actor=member, keep=keep, other=other)

    assert not Customer.objects.filter(pk=other_pk).exists()
    assert Identity.objects.filter(customer=keep).count() == 2
    assert Conversation.objects.filter(customer=keep).count() == 1
    assert Order.objects.get(external_id="W1").customer_id == keep.pk
    assert CustomerEvent.objects.get().customer_id == keep.pk
    keep.refresh_from_db()
    assert keep.notes == "VIP caller"
    assert keep.lifetime_value == Decimal("40.00")
    audit = AuditEntry.objects.get(action="customer.merge")
    assert audit.actor == member and audit.before["merged"] == other_pk


def test_lifetime_value_ignores_cancelled_orders(workspace):
    c = services.resolve_customer(
        workspace=workspace, claims=claims(workspace, email="a@b.co")
    ).customer
    services.upsert_order(workspace=workspace, customer=c, external_id="1", total=Decimal("10.50"))
    services.upsert_order(workspace=workspace, customer=c, external_id="2", total=Decimal("5.25"))
    services.upsert_order(workspace=workspace, customer=c, external_id="2", status="cancelled")
    c.refresh_from_db()
    assert c.lifetime_value == Decimal("10.50")


def test_an_order_moved_to_another_customer_moves_its_value(workspace):
    a, b = (
        services.resolve_customer(workspace=workspace, claims=claims(workspace, email=e)).customer
        for e in ("a@b.co", "c@d.co")
    )
    services.upsert_order(workspace=workspace, customer=a, external_id="9", total=Decimal("30"))
    order, created = services.upsert_order(
        workspace=workspace, customer=b, external_id="9", total=Decimal("30")
    )
    assert not created and order.customer_id == b.pk
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.lifetime_value, b.lifetime_value) == (Decimal("0"), Decimal("30"))


def test_search_finds_by_name_email_phone_and_order(workspace, member):
    c = services.create_customer(
        workspace=workspace,
        actor=member,
        identities=[("email", "marta@example.es"), ("phone", "+34911222333")],
        name="Marta Ruiz",
    )
    services.upsert_order(workspace=workspace, customer=c, external_id="ORD-77")
    for q in ["marta ruiz", "marta@example.es", "+34 911 222 333", "ORD-77"]:
        assert list(services.search_customers(workspace=workspace, query=q)) == [c], q


@pytest.mark.parametrize("dup", ["email", "phone"])
def test_creating_a_customer_with_a_taken_identity_is_refused(workspace, member, dup):
    from warmline.errors import InvalidInput

    services.create_customer(
        workspace=workspace,
        actor=member,
        identities=[("email", "x@y.co"), ("phone", "+14155550100")],
    )
    value = {"email": "X@y.co", "phone": "+1 415 555 0100"}[dup]
    with pytest.raises(InvalidInput):
        services.create_customer(workspace=workspace, actor=member, identities=[(dup, value)])
