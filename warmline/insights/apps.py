from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "warmline.insights"
    label = "insights"
    verbose_name = "Insights (KPIs)"

    def ready(self) -> None:
        from warmline.conversations.signals import (
            conversation_changed,
            message_ingested_background,
        )

        from .signals import on_conversation_changed, on_message_ingested

        conversation_changed.connect(
            on_conversation_changed, dispatch_uid="insights.conversation_changed"
        )
        message_ingested_background.connect(
            on_message_ingested, dispatch_uid="insights.message_ingested"
        )
