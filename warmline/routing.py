"""Websocket routes; channels and the agent workspace add theirs here."""

websocket_urlpatterns: list = []
