from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "warmline.channels"
    label = "channel_adapters"  # "channels" is Django Channels' label
    verbose_name = "Channels"

    def ready(self) -> None:
        # Each channel's adapter registers for the one send() path (docs/channels.md).
        from .email.outbound import EmailAdapter
        from .outbound import PulledByClientAdapter, register_adapter

        register_adapter("email", EmailAdapter())
        register_adapter("api", PulledByClientAdapter())
