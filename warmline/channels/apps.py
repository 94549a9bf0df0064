from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "warmline.channels"
    label = "channel_adapters"  # "channels" is Django Channels' label
    verbose_name = "Channels"
