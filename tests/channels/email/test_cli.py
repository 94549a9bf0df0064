"""`warmline channel …`: clear errors with a non-zero exit, settings kept."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from warmline.channels.models import EmailAddress, ImapMailbox


def run(*args: str) -> str:
    out = StringIO()
    call_command("channel", *args, stdout=out)
    return out.getvalue()


def test_add_email_with_outbound_settings_and_list(workspace):
    out = run(
        "add-email", "--workspace", "acme", "--address", "Help@Brand.example",
        "--from-name", "Acme Support", "--signature", "Acme", "--smtp-host", "smtp.brand.example",
        "--smtp-port", "587", "--smtp-user", "help", "--smtp-password", "s3cret",
    )  # fmt: skip
    assert "help@brand.example receives mail for acme" in out
    row = EmailAddress.objects.get(address="help@brand.example")
    assert (row.workspace_id, row.from_name, row.smtp_host, row.smtp_port, row.smtp_security) == (
        workspace.pk, "Acme Support", "smtp.brand.example", 587, "starttls",
    )  # fmt: skip
    assert row.is_default and row.smtp_password == "s3cret"
    run("add-email", "--workspace", "acme", "--address", "sales@brand.example", "--default")
    listed = run("list", "--workspace", "acme")
    assert "email sales@brand.example (default)" in listed
    assert "email help@brand.example smtp=smtp.brand.example:587" in listed


def test_errors_name_the_problem(workspace):
    with pytest.raises(CommandError, match="No workspace 'nope'"):
        run("add-email", "--workspace", "nope", "--address", "a@b.example")
    with pytest.raises(CommandError, match=r"not an email address.*\(address\)"):
        run("add-email", "--workspace", "acme", "--address", "not-an-address")
    with pytest.raises(CommandError, match=r"loopback.*\(smtp_security\)"):
        run("add-email", "--workspace", "acme", "--address", "a@b.example",
            "--smtp-host", "smtp.b.example", "--smtp-security", "plain")  # fmt: skip
    with pytest.raises(CommandError, match=r"loopback.*\(security\)"):
        run("add-imap", "--workspace", "acme", "--host", "imap.b.example", "--user", "u",
            "--password", "p", "--security", "plain")  # fmt: skip
    assert not EmailAddress.objects.exists() and not ImapMailbox.objects.exists()


def test_add_imap(workspace):
    out = run("add-imap", "--workspace", "acme", "--host", "imap.brand.example", "--user", "help",
              "--password", "pw", "--move-to", "Done")  # fmt: skip
    box = ImapMailbox.objects.get()
    assert (box.port, box.security, box.folder, box.move_to) == (993, "tls", "INBOX", "Done")
    assert f"imap #{box.pk}" in out
