"""ASGI entry point: websockets (and, in the embedded default, HTTP too)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmline.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from warmline.routing import websocket_application, websocket_urlpatterns  # noqa: E402
from warmline.warmup import warm  # noqa: E402

warm()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
