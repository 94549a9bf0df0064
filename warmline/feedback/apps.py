from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "warmline.feedback"
    label = "feedback"
    verbose_name = "Feedback (surveys)"

    def ready(self) -> None:
        from warmline.conversations.signals import conversation_changed

        from .signals import on_conversation_changed

        conversation_changed.connect(
            on_conversation_changed, dispatch_uid="feedback.conversation_changed"
        )
