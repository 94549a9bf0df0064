from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "warmline.channels.messaging"
    label = "messaging"
    verbose_name = "SMS, WhatsApp and webhooks"

    def ready(self) -> None:
        from . import adapter

        adapter.register()
