from django.apps import AppConfig


class ProactiveConfig(AppConfig):
    name = "warmline.proactive"
    label = "proactive"
    verbose_name = "Proactive care"

    def ready(self) -> None:
        """Trends hear about new messages in the worker, through the ingest signal."""
        from warmline.conversations.signals import message_ingested_background

        from .signals import on_message_ingested

        message_ingested_background.connect(
            on_message_ingested, dispatch_uid="proactive.trends.ingested"
        )
