from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "warmline.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge"
