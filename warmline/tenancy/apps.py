from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "warmline.tenancy"
    label = "tenancy"
    verbose_name = "Workspaces and members"

    def ready(self) -> None:
        from . import signals

        signals.connect()
