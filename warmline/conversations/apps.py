from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "warmline.conversations"
    label = "conversations"
    verbose_name = "Conversations"
