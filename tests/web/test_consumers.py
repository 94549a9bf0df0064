"""Websockets: live timeline and inbox updates, presence, and who may connect."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.contrib.auth.models import AnonymousUser

from tests._async import run_async
from tests.factories import ConversationFactory, CustomerFactory, MemberFactory
from warmline.conversations import services as conversations
from warmline.routing import websocket_urlpatterns

from ._ws import WebsocketCommunicator

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter(websocket_urlpatterns)


def _communicator(path: str, user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, path)
    comm.scope["user"] = user
    comm.scope["session"] = {}
    return comm


@pytest.fixture
def setup(workspace):
    agent = MemberFactory(workspace=workspace, display_name="Ana Agent")
    colleague = MemberFactory(workspace=workspace, display_name="Ben Colleague")
    conv = ConversationFactory(customer=CustomerFactory(workspace=workspace))
    return agent, colleague, conv


@run_async
async def test_reply_reaches_open_conversation_and_inbox(setup, workspace):
    agent, _, conv = setup
    timeline = _communicator(f"/ws/conversations/{conv.pk}/", agent.user)
    inbox = _communicator("/ws/inbox/", agent.user)
    assert (await timeline.connect())[0]
    assert (await inbox.connect())[0]
    await sync_to_async(conversations.record_reply)(
        workspace=workspace, member=agent, conversation=conv, text="On its way"
    )
    got = await timeline.receive_json_from(timeout=3)
    assert got == {"type": "timeline", "conversation_id": conv.pk, "what": ["reply"]}
    assert (await inbox.receive_json_from(timeout=3))["conversation_id"] == conv.pk
    await timeline.disconnect()
    await inbox.disconnect()


@run_async
async def test_status_change_reaches_inbox(setup, workspace):
    agent, _, conv = setup
    inbox = _communicator("/ws/inbox/", agent.user)
    assert (await inbox.connect())[0]
    await sync_to_async(conversations.update_conversation)(
        workspace=workspace, actor=agent, conversation=conv, changes={"status": "resolved"}
    )
    got = await inbox.receive_json_from(timeout=3)
    assert got["type"] == "inbox" and got["what"] == ["status"]
    await inbox.disconnect()


@run_async
async def test_presence_shows_who_else_is_here_and_replying(setup):
    agent, colleague, conv = setup
    path = f"/ws/conversations/{conv.pk}/"
    first = _communicator(path, agent.user)
    assert (await first.connect())[0]
    second = _communicator(path, colleague.user)
    assert (await second.connect())[0]
    # the first agent learns the colleague arrived; the colleague learns the first is here
    assert await first.receive_json_from(timeout=3) == {
        "type": "presence",
        "state": "viewing",
        "member_id": colleague.pk,
        "name": "Ben Colleague",
    }
    assert (await second.receive_json_from(timeout=3))["name"] == "Ana Agent"
    await second.send_json_to({"action": "replying"})
    got = await first.receive_json_from(timeout=3)
    assert (got["state"], got["name"]) == ("replying", "Ben Colleague")
    assert await second.receive_nothing(timeout=0.2)  # no echo of one's own presence
    await second.disconnect()
    assert (await first.receive_json_from(timeout=3))["state"] == "left"
    await first.disconnect()


@run_async
async def test_anonymous_and_outsiders_are_refused(setup, other_workspace):
    _, _, conv = setup
    anonymous = _communicator(f"/ws/conversations/{conv.pk}/", AnonymousUser())
    connected, code = await anonymous.connect()
    assert not connected and code == 4401
    outsider = await sync_to_async(MemberFactory)(workspace=other_workspace)
    stranger = _communicator(f"/ws/conversations/{conv.pk}/", outsider.user)
    connected, code = await stranger.connect()
    assert not connected and code == 4404


@run_async
async def test_session_cookie_authenticates_through_the_asgi_stack(setup, client):
    agent, _, conv = setup
    await sync_to_async(client.force_login)(agent.user)
    cookie = client.cookies["sessionid"].value
    app = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    comm = WebsocketCommunicator(
        app, f"/ws/conversations/{conv.pk}/", headers=[(b"cookie", f"sessionid={cookie}".encode())]
    )
    assert (await comm.connect())[0]
    await comm.disconnect()
