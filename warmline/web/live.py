"""Real-time fan-out: domain signals become websocket group messages.

Lower layers announce (``message_ingested``, ``conversation_changed``) after
commit; this module, connected in ``WebConfig.ready``, forwards a small "what
changed" note to the workspace's inbox group and the conversation's group. The
browser then fetches the fresh fragment over HTTP, so permissions and
rendering stay in one place (the views).
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

log = logging.getLogger(__name__)


def inbox_group(workspace_id: int) -> str:
    return f"inbox.{workspace_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def _send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer) and not layer.groups.get(group):
        # Nobody in this process listens to the group: skip the event-loop hop
        # (about 1 ms per send, paid on every ingested message; bench/ingest.py).
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # a dropped live update must never fail the write that caused it
        log.exception("live update to %s failed", group)


def on_message_ingested(sender, *, workspace_id, conversation_id, **kwargs) -> None:
    note = {"conversation_id": conversation_id, "what": ["message"]}
    _send(inbox_group(workspace_id), {"type": "inbox.changed", **note})
    _send(conversation_group(conversation_id), {"type": "timeline.changed", **note})


def on_conversation_changed(sender, *, workspace_id, conversation_id, changes, **kwargs) -> None:
    note = {"conversation_id": conversation_id, "what": sorted(str(k) for k in changes)}
    _send(inbox_group(workspace_id), {"type": "inbox.changed", **note})
    _send(conversation_group(conversation_id), {"type": "timeline.changed", **note})


def connect() -> None:
    from warmline.conversations.signals import conversation_changed, message_ingested

    message_ingested.connect(on_message_ingested, dispatch_uid="web.live.message_ingested")
    conversation_changed.connect(
        on_conversation_changed, dispatch_uid="web.live.conversation_changed"
    )
