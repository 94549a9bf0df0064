"""Running async test bodies from plain pytest tests (no pytest-asyncio)."""

from __future__ import annotations

import asyncio
import functools

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def run_async(fn):
    """Run an async test body on its own event loop, as ``async_to_sync`` does.

    Before that loop closes, the channel layer's connections of the loop are closed.
    Closing the loop cancels the consumers still waiting on the layer, and redis-py can
    swallow the cancellation of a blocking pop (redis/redis-py#2028, #2579): the receive
    then polls Redis for ever and ``asyncio.run`` waits for it, so a test never returned
    (seen twice in the PostgreSQL + Redis pass of CI). With its connection closed, the
    pop fails instead and the task ends. The in-memory layer has nothing to close.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        async def body():
            try:
                return await fn(*args, **kwargs)
            finally:
                close = getattr(get_channel_layer(), "close_pools", None)
                if close is not None:
                    await asyncio.wait_for(close(), timeout=30)

        return async_to_sync(body)()

    return wrapper
