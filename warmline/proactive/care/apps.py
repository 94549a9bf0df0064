from django.apps import AppConfig


class CareConfig(AppConfig):
    """Health scores with history, churn risk and playbooks (proactive outreach)."""

    name = "warmline.proactive.care"
    label = "care"
    verbose_name = "Proactive care (health and playbooks)"

    def ready(self) -> None:
        from . import signals

        signals.connect()
