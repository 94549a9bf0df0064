"""SMS and WhatsApp through Twilio-compatible webhooks and REST calls.

Inbound: form-encoded webhooks signed with X-Twilio-Signature. Outbound: the
one ``send()`` path posting to a real HTTP server on loopback that stands in
for the provider (its base URL is the account's setting).
"""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from warmline.channels import outbound
from warmline.channels.messaging.models import MessagingAccount, Provider
from warmline.channels.messaging.services import twilio_signature
from warmline.channels.models import OutboundMessage, OutboundStatus
from warmline.conversations.models import DeliveryStatus, EntryKind, TimelineEntry
from warmline.customers.models import Identity

from .provider import Provider as FakeProvider

TOKEN = "twilio-auth-token-123"
SID = "AC0123456789abcdef0123456789abcdef"


def test_signature_matches_twilios_published_vectors():
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    assert twilio_signature(url, params, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature(url, list(reversed(params)), "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert twilio_signature(url, repeated, "12345") == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert twilio_signature(url + "&x=1", params, "12345") != "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature(url, params, "54321") != "RSOYDt4T1cUTdK1PDd93/VVr8B8="


@pytest.fixture
def provider():
    with FakeProvider() as p:
        yield p


@pytest.fixture
def account(workspace, provider):
    return MessagingAccount.objects.create(
        workspace=workspace,
        name="Twilio",
        provider=Provider.TWILIO,
        account_sid=SID,
        auth_token=TOKEN,
        sms_number="+15005550006",
        whatsapp_number="+14155238886",
        api_base_url=provider.url,
    )


def _post(client: Client, account, params: dict, *, path="", signature=None, token=TOKEN):
    url = f"http://testserver/hooks/twilio/{account.key}/{path}"
    sig = signature if signature is not None else twilio_signature(url, params.items(), token)
    return client.post(
        url,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sig},
    )


def sms(sid="SM00000000000000000000000000000001", body="Where is my order?", **extra):
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": SID,
        "From": "+34600111222",
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


def test_signed_sms_is_ingested_and_a_retry_is_not_duplicated(workspace, account):
    client = Client()
    first = _post(client, account, sms())
    assert first.status_code == 200
    assert first["Content-Type"].startswith("text/xml") and b"<Response>" in first.content
    again = _post(client, account, sms())  # the provider retries after a timeout
    assert again.status_code == 200
    entries = TimelineEntry.objects.filter(workspace=workspace, kind=EntryKind.CUSTOMER_MESSAGE)
    assert entries.count() == 1
    entry = entries.get()
    assert entry.channel == "sms" and entry.text == "Where is my order?"
    assert entry.external_id == "SM00000000000000000000000000000001"
    assert Identity.objects.get(customer=entry.author_customer, kind="phone").value == (
        "+34600111222"
    )


def test_whatsapp_message_with_media_and_profile_name(workspace, account):
    params = sms(
        sid="SM00000000000000000000000000000002",
        body="Photo of the damage",
        From="whatsapp:+34600111222",
        To="whatsapp:+14155238886",
        ProfileName="Ana García",
        WaId="34600111222",
        NumMedia="1",
        MediaUrl0="https://api.twilio.example/media/ME1",
        MediaContentType0="image/jpeg",
    )
    assert _post(Client(), account, params).status_code == 200
    entry = TimelineEntry.objects.get(workspace=workspace)
    assert entry.channel == "whatsapp"
    assert entry.author_customer.name == "Ana García"
    assert entry.attachments == [
        {
            "url": "https://api.twilio.example/media/ME1",
            "content_type": "image/jpeg",
            "source": "provider",
        }
    ]
    # The same person on SMS is the same customer.
    _post(Client(), account, sms(sid="SM00000000000000000000000000000003", body="also by sms"))
    customers = set(
        TimelineEntry.objects.filter(workspace=workspace).values_list(
            "author_customer_id", flat=True
        )
    )
    assert len(customers) == 1


def test_bad_missing_or_tampered_signatures_are_refused(workspace, account):
    client = Client()
    assert _post(client, account, sms(), signature="").status_code == 403
    assert _post(client, account, sms(), signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert _post(client, account, sms(), token="the-wrong-token").status_code == 403
    # Signed for one body, sent with another.
    url = f"http://testserver/hooks/twilio/{account.key}/"
    sig = twilio_signature(url, sms().items(), TOKEN)
    tampered = client.post(
        url,
        data=urlencode(sms(body="Refund me twice")),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sig},
    )
    assert tampered.status_code == 403
    assert tampered.json()["detail"][0]["loc"] == ["body", "X-Twilio-Signature"]
    assert not TimelineEntry.objects.filter(workspace=workspace).exists()
    # An unknown or inactive account is a 404.
    account.is_active = False
    account.save()
    assert _post(client, account, sms()).status_code == 404


def test_signature_uses_the_public_url_the_provider_called(workspace, account):
    account.public_url = "https://support.brand.example"
    account.save()
    public = f"https://support.brand.example/hooks/twilio/{account.key}/"
    sig = twilio_signature(public, sms().items(), TOKEN)
    resp = Client().post(
        f"/hooks/twilio/{account.key}/",
        data=urlencode(sms()),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sig},
    )
    assert resp.status_code == 200
    assert TimelineEntry.objects.filter(workspace=workspace).count() == 1


def test_invalid_sender_is_a_422_naming_the_field(workspace, account):
    resp = _post(Client(), account, sms(From="not-a-number"))
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "phone"]


# --- Outbound ----------------------------------------------------------------------------


@pytest.fixture
def sms_case(workspace, account):
    _post(Client(), account, sms())
    return TimelineEntry.objects.get(workspace=workspace).conversation


def _reply(workspace, member, conv, capture, text="A courier is on the way.", **kw):
    with capture(execute=True):
        msg = outbound.send(workspace=workspace, actor=member, conversation=conv, text=text, **kw)
    msg.refresh_from_db()
    return msg


def test_agent_reply_goes_out_through_the_rest_shape(
    workspace, member, account, sms_case, provider, django_capture_on_commit_callbacks
):
    account.public_url = "https://support.brand.example"
    account.save()
    msg = _reply(workspace, member, sms_case, django_capture_on_commit_callbacks)
    assert msg.channel == "sms" and msg.status == OutboundStatus.SENT
    assert len(provider.seen) == 1
    req = provider.seen[0]
    assert req.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert (
        req.headers["authorization"]
        == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    )
    assert req.form == {
        "To": "+34600111222",
        "From": "+15005550006",
        "Body": "A courier is on the way.",
        "StatusCallback": f"https://support.brand.example/hooks/twilio/{account.key}/status/",
    }
    assert msg.external_id == "SM" + "1".zfill(32)
    entry = TimelineEntry.objects.get(pk=msg.entry_id)
    assert entry.delivery_status == DeliveryStatus.SENT


def test_whatsapp_reply_uses_whatsapp_addresses(
    workspace, member, account, sms_case, provider, django_capture_on_commit_callbacks
):
    msg = _reply(
        workspace, member, sms_case, django_capture_on_commit_callbacks, channel="whatsapp"
    )
    assert msg.status == OutboundStatus.SENT
    assert provider.seen[0].form["To"] == "whatsapp:+34600111222"
    assert provider.seen[0].form["From"] == "whatsapp:+14155238886"


def test_status_callbacks_move_the_timeline_forward_only(
    workspace, member, account, sms_case, provider, django_capture_on_commit_callbacks
):
    msg = _reply(workspace, member, sms_case, django_capture_on_commit_callbacks)
    client = Client()

    def status(value, **extra):
        params = {
            "MessageSid": msg.external_id,
            "MessageStatus": value,
            "From": "+15005550006",
            "To": "+34600111222",
            "AccountSid": SID,
            **extra,
        }
        return _post(client, account, params, path="status/")

    assert status("delivered").status_code == 200
    entry = TimelineEntry.objects.get(pk=msg.entry_id)
    assert entry.delivery_status == DeliveryStatus.DELIVERED
    assert entry.data["delivery"]["provider_status"] == "delivered"
    assert status("sent").status_code == 200  # late and out of order: ignored
    entry.refresh_from_db()
    assert entry.delivery_status == DeliveryStatus.DELIVERED
    assert status("read").status_code == 200
    entry.refresh_from_db()
    assert entry.delivery_status == DeliveryStatus.READ
    assert status("undelivered", ErrorCode="30003").status_code == 200
    entry.refresh_from_db()
    assert entry.delivery_status == DeliveryStatus.FAILED
    assert entry.data["delivery"]["error_code"] == "30003"
    # A forged callback cannot change anything.
    forged = _post(
        client,
        account,
        {"MessageSid": msg.external_id, "MessageStatus": "delivered"},
        path="status/",
        token="guess",
    )
    assert forged.status_code == 403
    assert status("bogus").status_code == 422


def test_provider_outage_is_retried_and_a_bad_number_fails_for_good(
    workspace, member, account, sms_case, provider, django_capture_on_commit_callbacks
):
    provider.script = [(503, {"message": "Service unavailable"})]
    msg = _reply(workspace, member, sms_case, django_capture_on_commit_callbacks)
    assert msg.status == OutboundStatus.QUEUED and msg.attempts == 1
    assert "503" in msg.last_error
    OutboundMessage.objects.filter(pk=msg.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert outbound.attempt(msg.pk) == OutboundStatus.SENT
    msg.refresh_from_db()
    assert msg.attempts == 2 and msg.external_id.startswith("SM")
    assert len(provider.seen) == 2

    provider.script = [(400, {"code": 21211, "message": "Invalid 'To' Phone Number"})]
    bad = _reply(workspace, member, sms_case, django_capture_on_commit_callbacks, text="again")
    assert bad.status == OutboundStatus.FAILED and "21211" in bad.last_error


def test_reply_to_a_customer_without_phone_is_recorded_as_failed(
    workspace, member, account, django_capture_on_commit_callbacks
):
    from warmline.conversations import services as conversations
    from warmline.conversations.inbound import InboundMessage, Sender

    conv = conversations.ingest(
        workspace=workspace,
        message=InboundMessage(channel="email", text="hi", sender=Sender(email="a@example.com")),
    ).conversation
    msg = _reply(workspace, member, conv, django_capture_on_commit_callbacks, channel="sms")
    assert msg.status == OutboundStatus.FAILED and "phone" in msg.last_error
