"""The widget's websocket route (public: outside the agent-side origin validator)."""

from django.urls import path

from .consumers import WidgetConsumer

widget_websocket_urlpatterns = [
    path("ws/widget/<slug:workspace>/", WidgetConsumer.as_asgi()),
]
