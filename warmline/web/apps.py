from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "warmline.web"
    label = "web"
    verbose_name = "Agent workspace"
