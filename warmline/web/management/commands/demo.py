"""``warmline demo``: load the demo workspaces (once) and print the login."""

import time

from django.core.management.base import BaseCommand

from warmline.conversations.models import Conversation, TimelineEntry
from warmline.web.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the deterministic demo workspaces unless they already exist."

    def handle(self, *args, **opts):
        started = time.monotonic()
        self.stdout.write("Loading the demo workspace (first run takes a minute)…")
        ws = load_demo(stdout=self.stdout)
        self.stdout.write(
            f"Demo workspace '{ws.name}': {Conversation.objects.filter(workspace=ws).count()} conversations, "
            f"{TimelineEntry.objects.filter(workspace=ws).count()} timeline entries "
            f"({time.monotonic() - started:.0f} s)."
        )
        self.stdout.write(f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
