"""The inbound SMTP server (aiosmtpd): mail for workspace addresses, acknowledged after commit.

* ``RCPT TO`` an address no workspace has → ``550 5.1.1`` (the sending MTA
  bounces it to its sender; nothing is accepted that we would then drop).
* A message over ``max_bytes`` → ``552`` (aiosmtpd's ``data_size_limit``).
* ``DATA`` is answered ``250`` only after ``receive()`` has committed the
  message (or kept it in quarantine); if the database is unavailable the answer
  is ``451`` and the sender retries later.

Database work runs in a small thread pool, so the event loop keeps talking to
other clients while a message is being stored.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.db import close_old_connections

from . import services

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 100


def _known(address: str) -> bool:
    close_old_connections()
    try:
        return services.is_known_recipient(address)
    finally:
        close_old_connections()


def _receive(raw: bytes, mail_from: str, rcpts: list[str]) -> services.Received:
    close_old_connections()
    try:
        return services.receive(raw, recipients=rcpts, envelope_from=mail_from, source="smtp")
    finally:
        close_old_connections()


class InboundHandler:
    """aiosmtpd handler: routing checks at RCPT, storage at DATA."""

    def __init__(self, workers: int = 4) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smtpd-db")
        self.accepted = 0

    async def _run(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        try:
            known = await self._run(_known, address)
        except Exception:
            log.exception("recipient check failed for %s", address)
            return "451 4.3.0 Temporary failure, try again later"
        if not known:
            return f"550 5.1.1 <{address}>: no such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await self._run(_receive, raw, envelope.mail_from or "", list(envelope.rcpt_tos))
        except Exception:
            log.exception("could not store a message from %s", envelope.mail_from)
            return "451 4.3.0 Could not store the message, try again later"
        self.accepted += 1
        return "250 2.0.0 Message accepted"

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key or None)
    return context


def make_controller(
    host: str,
    port: int,
    *,
    max_bytes: int | None = None,
    workers: int = 4,
    cert: str | None = None,
    key: str | None = None,
    hostname: str | None = None,
) -> Controller:
    """A started-on-demand server: ``controller.start()`` / ``controller.stop()``.

    With a certificate the server offers STARTTLS.
    """
    # aiosmtpd logs every SMTP command at INFO: one line per command per message.
    if logging.getLogger("mail.log").level == logging.NOTSET:
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = InboundHandler(workers=workers)
    context = tls_context(cert, key)
    kwargs = {
        "data_size_limit": max_bytes or services.max_message_bytes(),
        "enable_SMTPUTF8": True,
        "decode_data": False,
        "ident": "Warmline ESMTP",
    }
    if context is not None:
        kwargs["tls_context"] = context
    return Controller(handler, hostname=host, port=port, server_hostname=hostname, **kwargs)
