from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "warmline.channels.chat"
    label = "chat"
    verbose_name = "Live chat"

    def ready(self) -> None:
        from . import adapter

        adapter.register()
