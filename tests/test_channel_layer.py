"""The Redis channel layer keeps an idle receiver waiting instead of failing.

redis-py's default 5 s read timeout equals channels-redis's 5 s blocking pop, so a
websocket with nothing to receive for a few seconds used to die with ``TimeoutError``
and reconnect (presence and live updates flapped). Runs only where Redis is configured.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

pytestmark = pytest.mark.skipif(
    "redis" not in settings.CHANNEL_LAYERS["default"]["BACKEND"].lower(),
    reason="REDIS_URL is not set: the in-memory layer has no socket to time out",
)


def test_an_idle_receive_outlives_the_blocking_pop_and_gets_its_message():
    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()

        async def later():
            await asyncio.sleep(6.5)
            await layer.send(channel, {"type": "ping"})

        sender = asyncio.create_task(later())
        message = await asyncio.wait_for(layer.receive(channel), timeout=20)
        await sender
        await layer.flush()
        return message

    assert asyncio.run(scenario()) == {"type": "ping"}
