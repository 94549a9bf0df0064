"""Websocket routes; channels and the agent workspace add theirs here."""

from django.urls import path

from warmline.web.consumers import ConversationConsumer, InboxConsumer

websocket_urlpatterns: list = [
    path("ws/inbox/", InboxConsumer.as_asgi()),
    path("ws/conversations/<int:conversation_id>/", ConversationConsumer.as_asgi()),
]
