from django.apps import AppConfig


class VoiceConfig(AppConfig):
    name = "warmline.channels.voice"
    label = "voice"
    verbose_name = "Voice calls"
