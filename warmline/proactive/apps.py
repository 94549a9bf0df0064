from django.apps import AppConfig


class ProactiveConfig(AppConfig):
    name = "warmline.proactive"
    label = "proactive"
    verbose_name = "Proactive care"

    def ready(self) -> None:
        """Trends hear about new messages through the ingest signal (layers point down)."""
        from warmline.conversations.signals import message_ingested

        from .signals import on_message_ingested

        message_ingested.connect(on_message_ingested, dispatch_uid="proactive.trends.ingested")
