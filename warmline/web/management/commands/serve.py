"""``warmline serve``: the embedded server (ASGI via uvicorn) with its in-process worker."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Warmline (web, API, websockets) with the embedded background worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-worker", action="store_true", help="Don't run the embedded worker"
        )
        parser.add_argument(
            "--no-migrate", action="store_true", help="Don't apply migrations first"
        )

    def handle(self, *args, host, port, no_worker, no_migrate, **opts):
        import uvicorn

        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        consumer = None
        if settings.WARMLINE_EMBEDDED_WORKER and not no_worker:
            from django.utils.module_loading import autodiscover_modules
            from huey.contrib.djhuey import HUEY

            # As `run_huey` does: register every app's tasks, or a task queued by
            # another process (`warmline demo`, a web worker) is unknown here and lost.
            autodiscover_modules("tasks")
            consumer = HUEY.create_consumer(workers=2, worker_type="thread", periodic=True)
            consumer.start()
            self.stdout.write("Embedded worker started (2 threads).")
        smtpd = None
        if getattr(settings, "WARMLINE_SMTPD", ""):
            from warmline.channels.email.smtpd import make_controller

            smtp_host, _, smtp_port = settings.WARMLINE_SMTPD.rpartition(":")
            smtpd = make_controller(smtp_host or "127.0.0.1", int(smtp_port))
            smtpd.start()
            self.stdout.write(f"Inbound SMTP server listening on {settings.WARMLINE_SMTPD}")
        self.stdout.write(f"Warmline is serving at http://{host}:{port}/")
        try:
            uvicorn.run(
                "warmline.asgi:application",
                host=host,
                port=port,
                log_level="warning",
                lifespan="off",
                ws="websockets",
            )
        finally:
            if smtpd is not None:
                smtpd.stop()
                smtpd.handler.close()
            if consumer is not None:
                consumer.stop(graceful=True)
