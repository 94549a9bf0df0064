"""Websocket routes; channels and the agent workspace add theirs here."""

from channels.routing import URLRouter
from django.urls import path

from warmline.channels.chat.routing import widget_websocket_urlpatterns
from warmline.web.consumers import ConversationConsumer, InboxConsumer

websocket_urlpatterns: list = [
    path("ws/inbox/", InboxConsumer.as_asgi()),
    path("ws/conversations/<int:conversation_id>/", ConversationConsumer.as_asgi()),
]

# Public sockets: the chat widget lives on the brand's own sites, which the agent-side
# AllowedHostsOriginValidator would refuse; each of these checks its own origins.
public_websocket_urlpatterns: list = [*widget_websocket_urlpatterns]
PUBLIC_PREFIXES = ("/ws/widget/",)


def websocket_application(private):
    """Public sockets go straight to their router; everything else through ``private``."""
    public = URLRouter(public_websocket_urlpatterns)

    async def route(scope, receive, send):
        if scope.get("path", "").startswith(PUBLIC_PREFIXES):
            return await public(scope, receive, send)
        return await private(scope, receive, send)

    return route
