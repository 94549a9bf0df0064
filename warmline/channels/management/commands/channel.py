"""``warmline channel …``: configure channels from the command line.

    warmline channel add-email --workspace acme --address help@brand.example \\
        [--from-name "Acme Support"] [--signature TEXT] [--default] \\
        [--smtp-host H --smtp-port N --smtp-user U --smtp-password P --smtp-security starttls]
    warmline channel list --workspace acme
    warmline channel add-imap --workspace acme --host H [--port N] --user U --password P \\
        [--security tls|starttls|plain] [--folder INBOX] [--move-to Processed]
    warmline channel poll-imap [--workspace acme]
    warmline channel quarantine [--workspace acme]
    warmline channel reprocess ID
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from warmline.errors import DomainError
from warmline.tenancy.services import get_workspace


class Command(BaseCommand):
    help = "Configure channels: email addresses, IMAP mailboxes, the email quarantine."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        p = sub.add_parser("add-email", help="Receive mail for ADDRESS in a workspace.")
        p.add_argument("--workspace", required=True)
        p.add_argument("--address", required=True)
        p.add_argument("--from-name", default="")
        p.add_argument("--signature", default="")
        p.add_argument("--default", action="store_true", help="Send replies from this address.")
        p.add_argument("--smtp-host", default="")
        p.add_argument("--smtp-port", type=int, default=None)
        p.add_argument("--smtp-user", default="")
        p.add_argument("--smtp-password", default="")
        p.add_argument("--smtp-security", default="starttls", choices=["tls", "starttls", "plain"])

        p = sub.add_parser("list", help="List a workspace's email addresses and mailboxes.")
        p.add_argument("--workspace", required=True)

        p = sub.add_parser("add-imap", help="Poll an IMAP mailbox for a workspace.")
        p.add_argument("--workspace", required=True)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, default=None)
        p.add_argument("--user", required=True)
        p.add_argument("--password", required=True)
        p.add_argument("--security", default="tls", choices=["tls", "starttls", "plain"])
        p.add_argument("--folder", default="INBOX")
        p.add_argument("--move-to", default="")
        p.add_argument("--name", default="")

        p = sub.add_parser("poll-imap", help="Fetch new mail from IMAP mailboxes now.")
        p.add_argument("--workspace", default=None)

        p = sub.add_parser("quarantine", help="List held (quarantined) email.")
        p.add_argument("--workspace", default=None)

        p = sub.add_parser("reprocess", help="Take a quarantined email in again.")
        p.add_argument("id", type=int)

    def handle(self, *args, action, **opts):
        try:
            getattr(self, "_" + action.replace("-", "_"))(**opts)
        except DomainError as exc:
            field = f" ({exc.field})" if exc.field else ""
            raise CommandError(f"{exc.message}{field}") from exc

    def _ws(self, slug):
        try:
            return get_workspace(slug)
        except DomainError as exc:
            raise CommandError(f"No workspace '{slug}'.") from exc

    def _add_email(self, *, workspace, address, from_name, signature, default, smtp_host,
                   smtp_port, smtp_user, smtp_password, smtp_security, **_):  # fmt: skip
        from warmline.channels.email.services import add_email_address

        row = add_email_address(
            workspace=self._ws(workspace),
            actor=None,
            address=address,
            from_name=from_name,
            signature=signature,
            is_default=True if default else None,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_username=smtp_user,
            smtp_password=smtp_password,
            smtp_security=smtp_security,
        )
        out = f"{row.address} receives mail for {row.workspace.slug}"
        if row.smtp_host:
            out += f"; replies leave via {row.smtp_host}:{row.smtp_port or 'default'}"
        self.stdout.write(out)

    def _list(self, *, workspace, **_):
        from warmline.channels.models import EmailAddress, ImapMailbox

        ws = self._ws(workspace)
        for row in EmailAddress.objects.filter(workspace=ws).order_by("address"):
            flags = " (default)" if row.is_default else ""
            flags += "" if row.is_active else " (inactive)"
            relay = f" smtp={row.smtp_host}:{row.smtp_port}" if row.smtp_host else ""
            self.stdout.write(f"email {row.address}{flags}{relay}")
        for box in ImapMailbox.objects.filter(workspace=ws).order_by("id"):
            self.stdout.write(f"imap #{box.pk} {box} ({box.security})")

    def _add_imap(self, *, workspace, host, port, user, password, security, folder, move_to,
                  name, **_):  # fmt: skip
        from warmline.channels.email.imap import add_mailbox

        box = add_mailbox(
            workspace=self._ws(workspace),
            actor=None,
            host=host,
            port=port,
            username=user,
            password=password,
            security=security,
            folder=folder,
            move_to=move_to,
            name=name,
        )
        self.stdout.write(f"imap #{box.pk} {box} will be polled")

    def _poll_imap(self, *, workspace, **_):
        from warmline.channels.email.imap import poll_mailbox
        from warmline.channels.models import ImapMailbox

        boxes = ImapMailbox.objects.filter(is_active=True)
        if workspace:
            boxes = boxes.filter(workspace=self._ws(workspace))
        for box in boxes:
            result = poll_mailbox(box)
            self.stdout.write(f"imap #{box.pk}: {result}")

    def _quarantine(self, *, workspace, **_):
        from warmline.channels.email.services import list_quarantine

        ws = self._ws(workspace) if workspace else None
        for q in list_quarantine(workspace=ws)[:200]:
            self.stdout.write(
                f"#{q.pk} {q.created_at:%Y-%m-%d %H:%M} {q.reason}: {q.detail[:80]} "
                f"from={q.from_header or q.envelope_from} file={q.eml.name}"
            )

    def _reprocess(self, *, id, **_):  # noqa: A002 (argparse name)
        from warmline.channels.email.services import reprocess
        from warmline.channels.models import QuarantinedEmail

        item = QuarantinedEmail.objects.filter(pk=id).first()
        if item is None:
            raise CommandError(f"No quarantined email #{id}.")
        result = reprocess(item=item)
        for o in result.outcomes:
            self.stdout.write(f"{o.status} {o.reason}".strip())
