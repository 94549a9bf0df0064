from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "warmline.actions"
    label = "actions"
    verbose_name = "Empowered actions"
