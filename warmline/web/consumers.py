"""Websockets of the agent workspace: inbox updates, conversation updates and presence.

Presence needs no shared store: a joining agent announces itself to the
conversation's group and everyone already there answers directly to the
newcomer's channel. That works the same on the in-memory layer (one process)
and on Redis (many).
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from warmline.conversations.models import Conversation
from warmline.tenancy.models import Member

from .live import conversation_group, inbox_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _member_for_workspace(user, workspace_id) -> Member | None:
    qs = Member.objects.filter(user=user, is_active=True)
    if workspace_id is not None:
        member = qs.filter(workspace_id=workspace_id).first()
        if member is not None:
            return member
    return qs.order_by("workspace__name").first()


@database_sync_to_async
def _member_for_conversation(user, conversation_id: int) -> Member | None:
    ws = (
        Conversation.objects.filter(pk=conversation_id)
        .values_list("workspace_id", flat=True)
        .first()
    )
    if ws is None:
        return None
    return Member.objects.filter(user=user, is_active=True, workspace_id=ws).first()


@database_sync_to_async
def _record_work(member: Member, conversation_id: int, key: str) -> None:
    from warmline.errors import DomainError
    from warmline.insights.worktime import record_work

    try:
        record_work(
            workspace=member.workspace, member=member, conversation_id=conversation_id, key=key
        )
    except DomainError:  # e.g. the conversation was deleted: presence goes on regardless
        pass


class InboxConsumer(AsyncJsonWebsocketConsumer):
    """One per open inbox tab: 'something changed in this workspace'."""

    group = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session")
        wanted = session.get("workspace_id") if session is not None else None
        member = await _member_for_workspace(user, wanted)
        if member is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.group = inbox_group(member.workspace_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def inbox_changed(self, event):
        await self.send_json(
            {"type": "inbox", "conversation_id": event["conversation_id"], "what": event["what"]}
        )


class ConversationConsumer(AsyncJsonWebsocketConsumer):
    """One per open conversation: timeline updates and who else is here or replying."""

    group = None
    member_id = None
    name = ""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        member = await _member_for_conversation(user, conversation_id)
        if member is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.member_id, self.name = member.pk, str(member)
        self.member, self.conversation_id = member, conversation_id
        self.group = conversation_group(conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._announce("presence.join")

    async def disconnect(self, code):
        if self.group:
            await self._announce("presence.leave")
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        action = content.get("action") if isinstance(content, dict) else None
        if action == "replying":
            await self._announce("presence.replying")
        elif action == "idle":
            await self._announce("presence.idle")
        elif action == "active":
            # The page is visible and in use: active work time for handle time (insights).
            # One session per page, kept across reconnects (the page names itself).
            page = content.get("page")
            ok = isinstance(page, str) and 0 < len(page) <= 40 and page.isalnum()
            key = f"{self.member_id}:{self.conversation_id}:{page if ok else self.channel_name}"
            await _record_work(self.member, self.conversation_id, key[:120])

    async def _announce(self, kind: str) -> None:
        await self.channel_layer.group_send(
            self.group,
            {
                "type": kind,
                "member_id": self.member_id,
                "name": self.name,
                "from": self.channel_name,
            },
        )

    async def _tell(self, event: dict, state: str) -> None:
        if event["from"] == self.channel_name:
            return  # our own announcement
        await self.send_json(
            {
                "type": "presence",
                "state": state,
                "member_id": event["member_id"],
                "name": event["name"],
            }
        )

    async def presence_join(self, event):
        if event["from"] == self.channel_name:
            return
        await self._tell(event, "viewing")
        # Answer the newcomer directly so they learn we are here too.
        await self.channel_layer.send(
            event["from"],
            {
                "type": "presence.here",
                "member_id": self.member_id,
                "name": self.name,
                "from": self.channel_name,
            },
        )

    async def presence_here(self, event):
        await self._tell(event, "viewing")

    async def presence_replying(self, event):
        await self._tell(event, "replying")

    async def presence_idle(self, event):
        await self._tell(event, "viewing")

    async def presence_leave(self, event):
        await self._tell(event, "left")

    async def timeline_changed(self, event):
        await self.send_json(
            {"type": "timeline", "conversation_id": event["conversation_id"], "what": event["what"]}
        )
