from django.apps import AppConfig


class ProactiveConfig(AppConfig):
    name = "warmline.proactive"
    label = "proactive"
    verbose_name = "Proactive care"
