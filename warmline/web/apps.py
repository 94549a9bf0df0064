from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "warmline.web"
    label = "web"
    verbose_name = "Agent workspace"

    def ready(self) -> None:
        from . import live

        live.connect()
