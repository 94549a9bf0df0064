"""The in-chat survey card: send() → chat adapter → the visitor's socket, answered once.

Real parts: the ASGI application and in-memory channel layer, the one ``send()``
path, the feedback services and the public JSON answer endpoint (Django's test
client with CSRF checks on, as a browser on another site would be).
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from warmline.channels.chat.models import ChatVisitor
from warmline.conversations.models import Conversation, TimelineEntry
from warmline.feedback import services as feedback
from warmline.feedback.models import Answer, Survey, SurveyStatus

from .conftest import hello, run_async, say, widget

pytestmark = pytest.mark.django_db(transaction=True)


def _send_chat_survey(workspace, kinds, language="es") -> Survey:
    visitor = ChatVisitor.objects.get(workspace=workspace)
    conv = Conversation.objects.select_related("customer").get(pk=visitor.conversation_id)
    conv.customer.preferred_language = language
    conv.customer.save(update_fields=["preferred_language"])
    conv.status = "resolved"
    conv.save(update_fields=["status"])
    return feedback.send_survey(workspace=workspace, conversation=conv, kinds=kinds, channel="chat")


def _post(token: str, body) -> tuple[int, dict]:
    client = Client(enforce_csrf_checks=True, HTTP_ORIGIN="https://shop.example")
    response = client.post(
        f"/s/{token}/answer/",
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
    )
    assert response["Access-Control-Allow-Origin"] == "*"
    return response.status_code, response.json()


async def _card_frame(comm) -> dict:
    while True:
        frame = await comm.receive_json_from(timeout=20)
        if frame["type"] == "message" and frame["message"].get("card"):
            return frame["message"]


@run_async
async def test_survey_card_arrives_live_with_its_data_and_replays_answered(shop):
    comm = widget(shop.slug)
    welcome = await hello(comm)
    assert (await say(comm, "My parcel is late", "s1"))["type"] == "ack"

    survey = await sync_to_async(_send_chat_survey)(shop, ["nps"])
    message = await _card_frame(comm)
    card = message["card"]
    assert message["author"] == "agent"
    assert card["kind"] == "survey" and card["token"] == survey.token
    assert card["language"] == "es"
    assert card["answered"] is False
    assert card["answer_path"] == f"/s/{survey.token}/answer/"
    assert card["url"].endswith(f"/s/{survey.token}/")
    [q] = card["questions"]
    assert q["kind"] == "nps" and (q["min"], q["max"]) == (0, 10)
    assert q["text"].startswith("¿Qué probabilidad hay de que recomiende")
    assert card["thanks"] == "¡Gracias por su respuesta!"

    # A reload replays the card; once answered it replays as answered.
    again = widget(shop.slug)
    replay = await hello(again, welcome["token"])
    replayed = [m for m in replay["messages"] if m.get("card")]
    assert [m["card"]["answered"] for m in replayed] == [False]
    await again.disconnect()

    status, body = await sync_to_async(_post)(survey.token, {"scores": {"nps": 9}})
    assert status == 200 and body["thanks"] == "¡Gracias por su respuesta!"
    again = widget(shop.slug)
    replay = await hello(again, welcome["token"])
    [m] = [m for m in replay["messages"] if m.get("card")]
    assert m["card"]["answered"] is True and m["card"]["scores"] == {"nps": 9}
    await again.disconnect()
    await comm.disconnect()


@run_async
async def test_card_answer_is_stored_once_and_validated(shop):
    comm = widget(shop.slug)
    await hello(comm)
    assert (await say(comm, "Thanks for the help", "s2"))["type"] == "ack"
    survey = await sync_to_async(_send_chat_survey)(shop, ["csat", "ces"], language="en")
    card = (await _card_frame(comm))["card"]
    assert [(q["kind"], q["min"], q["max"]) for q in card["questions"]] == [
        ("csat", 1, 5),
        ("ces", 1, 7),
    ]
    await comm.disconnect()

    def check():
        # Same validation as the page: every question, inside its scale, named field.
        assert _post(survey.token, {"scores": {"csat": 4}}) == (
            422,
            {"error": "invalid", "field": "ces", "message": "Please choose a score."},
        )
        status, body = _post(survey.token, {"scores": {"csat": 6, "ces": 5}})
        assert status == 422 and body["field"] == "csat"
        status, body = _post(survey.token, "not json")
        assert status == 422 and body["field"] == "body"
        assert _post("no-such-token", {"scores": {"csat": 4}})[0] == 404
        assert Answer.objects.filter(survey=survey).count() == 0

        assert _post(survey.token, {"scores": {"csat": 4, "ces": 6}})[0] == 200
        status, body = _post(survey.token, {"scores": {"csat": 1, "ces": 1}})  # double submit
        assert status == 409 and "already" in body["message"]
        scores = dict(Answer.objects.filter(survey=survey).values_list("kind", "score"))
        assert scores == {"csat": 4, "ces": 6}
        survey.refresh_from_db()
        assert survey.status == SurveyStatus.ANSWERED
        # The preflight a browser sends for a JSON post from the brand's site.
        pre = Client().options(f"/s/{survey.token}/answer/", HTTP_ORIGIN="https://shop.example")
        assert pre.status_code == 204 and "POST" in pre["Access-Control-Allow-Methods"]
        entry = TimelineEntry.objects.filter(workspace=shop, data__card__token=survey.token).get()
        assert entry.data["card"]["answered"] is True

    await sync_to_async(check)()


def test_email_survey_carries_no_card(workspace):
    """Only the in-chat channel gets the card; other channels keep the link."""
    from tests.factories import ConversationFactory, CustomerFactory, IdentityFactory
    from warmline.channels.models import EmailAddress, OutboundMessage

    EmailAddress.objects.create(workspace=workspace, address="help@acme.example", is_default=True)
    customer = CustomerFactory(workspace=workspace)
    IdentityFactory(workspace=workspace, customer=customer, kind="email", value="b@example.org")
    conv = ConversationFactory(workspace=workspace, customer=customer, status="resolved")
    survey = feedback.send_survey(workspace=workspace, conversation=conv, channel="email")
    message = OutboundMessage.objects.get(idempotency_key=f"survey-{survey.pk}")
    assert "card" not in message.payload and "card" not in message.entry.data
    assert survey.token in message.text
