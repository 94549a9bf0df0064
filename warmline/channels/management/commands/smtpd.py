"""``warmline smtpd --host H --port N``: the inbound SMTP server, in the foreground."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from warmline.channels.email.services import max_message_bytes
from warmline.channels.email.smtpd import make_controller


class Command(BaseCommand):
    help = "Accept mail for the workspaces' addresses by SMTP (answers 250 after commit)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2525)
        parser.add_argument(
            "--max-bytes",
            type=int,
            default=None,
            help=f"Largest message accepted (default {max_message_bytes()} bytes).",
        )
        parser.add_argument("--workers", type=int, default=4, help="Threads storing mail.")
        parser.add_argument("--tls-cert", default=None, help="Certificate file: offer STARTTLS.")
        parser.add_argument("--tls-key", default=None)
        parser.add_argument("--server-name", default=None, help="Name in the greeting.")

    def handle(self, *args, host, port, max_bytes, workers, tls_cert, tls_key, server_name,
               **opts):  # fmt: skip
        controller = make_controller(
            host,
            port,
            max_bytes=max_bytes,
            workers=workers,
            cert=tls_cert,
            key=tls_key,
            hostname=server_name,
        )
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        controller.start()
        self.stdout.write(f"Warmline SMTP server listening on {host}:{port}", ending="\n")
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            controller.stop()
            controller.handler.close()
            self.stdout.write("SMTP server stopped.")
