from django.apps import AppConfig


class EmpathyConfig(AppConfig):
    name = "warmline.empathy"
    label = "empathy"
    verbose_name = "Empathy signals"
