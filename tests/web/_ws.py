"""Channels' WebsocketCommunicator without importing ``channels.testing``'s package init.

That ``__init__`` also imports the live-server test case, which needs daphne (not
a dependency: Warmline serves ASGI with uvicorn). Registering the package shell
lets the communicator module itself be imported as usual.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import channels

if "channels.testing" not in sys.modules:
    try:
        import daphne  # noqa: F401
    except ImportError:
        shell = types.ModuleType("channels.testing")
        shell.__path__ = [str(Path(channels.__file__).parent / "testing")]
        sys.modules["channels.testing"] = shell

from channels.testing.websocket import WebsocketCommunicator  # noqa: E402

__all__ = ["WebsocketCommunicator"]
