"""Live-chat fixtures: a workspace whose widget may be embedded on shop.example."""

from __future__ import annotations

import random

import pytest
from django.utils import translation

from tests._async import run_async  # noqa: F401 (the chat tests import it from here)
from tests.web._ws import WebsocketCommunicator
from warmline.asgi import application

SHOP = "https://shop.example"


def widget(slug: str, origin: str | None = SHOP) -> WebsocketCommunicator:
    """A widget socket through the real ASGI application (routing and origin checks)."""
    headers = [(b"origin", origin.encode())] if origin else []
    comm = WebsocketCommunicator(application, f"/ws/widget/{slug}/", headers=headers)
    comm.scope["client"] = (CLIENT["address"], 50123)  # as the server sets it
    return comm


CLIENT = {"address": "203.0.113.7"}


@pytest.fixture(autouse=True)
def _fresh_client_address():
    """Each test is another client address: rate-limit windows live in the shared cache."""
    CLIENT["address"] = f"198.51.{random.randrange(256)}.{random.randrange(1, 255)}"
    # A request with Accept-Language leaves its language active on the test thread.
    translation.activate("en")
    yield


@pytest.fixture
def shop(workspace):
    workspace.settings = {**workspace.settings, "chat": {"allowed_origins": [SHOP]}}
    workspace.save(update_fields=["settings"])
    return workspace


async def hello(comm: WebsocketCommunicator, token: str | None = None) -> dict:
    connected, code = await comm.connect()
    assert connected, code
    await comm.send_json_to({"type": "hello", "token": token})
    welcome = await comm.receive_json_from(timeout=20)
    assert welcome["type"] == "welcome", welcome
    return welcome


async def say(comm: WebsocketCommunicator, text: str, client_id: str) -> dict:
    """Send one message; return the ack or error meant for it (skipping echoes)."""
    await comm.send_json_to({"type": "message", "text": text, "client_id": client_id})
    while True:
        frame = await comm.receive_json_from(timeout=20)
        if frame["type"] in ("ack", "error"):
            return frame


@pytest.fixture(scope="session", autouse=True)
def _drop_idle_sessions_at_the_end(django_db_setup, django_db_blocker):
    """Sockets' database work runs in pool threads whose PostgreSQL sessions outlive the
    tests (CONN_MAX_AGE); end them so the test database can be dropped afterwards."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
