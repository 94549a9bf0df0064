"""The widget's websocket: one per open widget, anonymous, origin-checked.

Protocol (JSON frames):
  → {"type": "hello", "token": str|null}          first frame; resumes or starts a visitor
  ← {"type": "welcome", "token", "messages", "agents_available", "email", "max_chars"}
  → {"type": "message", "text", "client_id"}      ← {"type": "ack", "client_id", "id"}
  → {"type": "email", "email", "name"}            ← {"type": "email_saved", "email"}
  → {"type": "seen", "id"}                        a reply was shown (delivery → read)
  ← {"type": "message", "message": {...}}         a reply, or this visitor's own message
                                                  sent from another tab
  ← {"type": "error", "code", "field", "message", "client_id"?}

The socket sits outside ``AllowedHostsOriginValidator`` (the widget lives on
the brand's own site); its origin is checked against the workspace's allowed
sites instead.
"""

from __future__ import annotations

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from warmline.errors import DomainError

from . import services

log = logging.getLogger(__name__)

# The visitor's database work runs in the thread pool (thread_sensitive=False), not in
# Channels' one shared sync thread: there, one ingest waiting for the database's write
# lock held every other visitor's message behind it (bench/channels_chat.py: visitor →
# agent p99 8.9 s → 1.1 s with 200 visitors and a busy background worker).
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_PROTOCOL = 4400
CLOSE_RATE_LIMITED = 4429
MAX_FRAME = 32_768
SERVER_ERROR = "server_error"


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


class WidgetConsumer(AsyncWebsocketConsumer):
    workspace = None
    visitor = None
    group = None

    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["workspace"]
        origin = _header(self.scope, b"origin")
        self.workspace = await database_sync_to_async(self._workspace)(slug)
        # Refusals are accepted and closed at once with a reason code: a refused
        # handshake looks like a network failure to the browser, which would make
        # the widget retry forever. Nothing is read or sent before the close.
        if self.workspace is None:
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if not services.origin_allowed(self.workspace, origin):
            log.info("chat widget refused origin %r for %s", origin, slug)
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN_ORIGIN)
            self.workspace = None
            return
        self.origin = origin
        await self.accept()

    @staticmethod
    def _workspace(slug: str):
        try:
            return services.get_workspace(slug)
        except DomainError:
            return None

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.visitor is not None:
            await database_sync_to_async(services.socket_closed)(self.visitor)

    async def receive(self, text_data=None, bytes_data=None):
        if self.workspace is None:
            return
        if text_data is None or len(text_data) > MAX_FRAME:
            await self._error("too_long", "text", "The frame is too large.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("invalid", None, "Frames are JSON objects.")
            return
        if not isinstance(content, dict):
            await self._error("invalid", None, "Frames are JSON objects.")
            return
        kind = content.get("type")
        if kind == "hello":
            await self._hello(content)
        elif self.visitor is None:
            await self._error("invalid", "type", "Say hello first.")
        elif kind == "message":
            await self._message(content)
        elif kind == "email":
            await self._email(content)
        elif kind == "seen":
            await self._seen(content)
        elif kind == "ping":
            await self._send({"type": "pong"})
        else:
            await self._error("invalid", "type", "Unknown frame type.")

    async def _hello(self, content: dict) -> None:
        if self.visitor is not None:
            return
        token = content.get("token")
        try:
            welcome = await database_sync_to_async(self._open, thread_sensitive=False)(
                token if isinstance(token, str) else None
            )
        except DomainError as exc:
            await self._error(exc.code, exc.field, exc.message)
            await self.close(code=CLOSE_RATE_LIMITED)
            return
        self.group = services.visitor_group(self.visitor.key)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send(welcome)

    def _open(self, token: str | None) -> dict:
        client = self.scope.get("client") or ("", 0)
        visitor, fresh = services.open_visitor(
            workspace=self.workspace, token=token, origin=self.origin, client=str(client[0] or "")
        )
        services.socket_opened(visitor)
        self.visitor = visitor
        return {
            "type": "welcome",
            "token": fresh,
            "messages": services.transcript(workspace=self.workspace, visitor=visitor),
            "agents_available": services.agents_available(self.workspace),
            "email": visitor.email,
            "max_chars": services.max_chars(),
        }

    async def _message(self, content: dict) -> None:
        client_id = content.get("client_id")
        try:
            posted = await database_sync_to_async(services.post_message, thread_sensitive=False)(
                workspace=self.workspace,
                visitor=self.visitor,
                text=content.get("text"),
                client_id=client_id,
            )
        except DomainError as exc:
            await self._error(exc.code, exc.field, exc.message, client_id=client_id)
            return
        except Exception:
            # Not stored: the widget keeps the message and resends it with the same id.
            log.exception("chat message from visitor %s failed", self.visitor.pk)
            await self._error(
                SERVER_ERROR, None, _("Not sent; we will retry."), client_id=client_id
            )
            return
        await self._send({"type": "ack", "client_id": client_id, "id": posted.entry_id})
        if posted.created:
            # Other tabs of this visitor show it too (this tab drops it by client_id).
            await self.channel_layer.group_send(
                self.group, {"type": "chat.message", "message": posted.message}
            )

    async def _email(self, content: dict) -> None:
        try:
            visitor = await database_sync_to_async(services.leave_email, thread_sensitive=False)(
                workspace=self.workspace,
                visitor=self.visitor,
                email=content.get("email"),
                name=content.get("name", ""),
            )
        except DomainError as exc:
            await self._error(exc.code, exc.field, exc.message)
            return
        await self._send({"type": "email_saved", "email": visitor.email})

    async def _seen(self, content: dict) -> None:
        try:
            await database_sync_to_async(services.mark_seen, thread_sensitive=False)(
                workspace=self.workspace, visitor=self.visitor, entry_id=content.get("id")
            )
        except DomainError as exc:
            await self._error(exc.code, exc.field, exc.message)

    async def chat_message(self, event):
        """A message for this visitor's widgets (from the chat adapter or another tab)."""
        await self._send({"type": "message", "message": event["message"]})

    async def chat_availability(self, event):
        await self._send({"type": "availability", "agents_available": event["available"]})

    async def _send(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload))

    async def _error(self, code, field, message, client_id=None) -> None:
        payload = {"type": "error", "code": code, "field": field, "message": str(message)}
        if client_id is not None:
            payload["client_id"] = client_id
        await self._send(payload)
