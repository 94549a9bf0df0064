"""A real dovecot IMAP server on loopback, as an unprivileged instance in a temp dir.

Debian's ``dovecot-imapd`` package provides the binary; tests that need it skip
when it is absent. When the tests run as root, dovecot is started as
``nobody`` (dovecot refuses to run its login processes as root).
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .sink import free_port

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists()
                                      else None)  # fmt: skip
USER, PASSWORD = "agent", "correct-horse"


def _config(root: Path, uid: int, gid: int, user: str, group: str, imap: int, imaps: int) -> str:
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_location = maildir:{root}/home/%u/Maildir
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
"""


class Dovecot:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        root = self.root
        for d in ("run", "state", "home"):
            (root / d).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1",
             "-subj", "/CN=localhost", "-keyout", str(root / "key.pem"),
             "-out", str(root / "cert.pem")],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        as_root = os.geteuid() == 0
        account = pwd.getpwnam("nobody") if as_root else pwd.getpwuid(os.geteuid())
        group = subprocess.run(
            ["id", "-gn", account.pw_name], capture_output=True, text=True, check=True
        ).stdout.strip()
        (root / "dovecot.conf").write_text(
            _config(
                root,
                account.pw_uid,
                account.pw_gid,
                account.pw_name,
                group,
                self.imap_port,
                self.imaps_port,
            )  # fmt: skip
        )
        cmd = [DOVECOT, "-F", "-c", str(root / "dovecot.conf")]
        if as_root:
            subprocess.run(["chown", "-R", f"{account.pw_uid}:{account.pw_gid}", str(root)],
                           check=True)  # fmt: skip
            os.chmod(root, 0o755)  # noqa: S103 (dovecot runs as nobody and must enter it)
            cmd = ["runuser", "-u", account.pw_name, "--", *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.proc.stdout.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start: " + self.log())

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def dovecot_server():
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (Debian package dovecot-imapd)")
    # Not under pytest's tmp folder: that one is private to us, and dovecot may run as nobody.
    root = Path(tempfile.mkdtemp(prefix="warmline-dovecot-"))
    server = Dovecot(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server):
    """The module's server with an empty mailbox for each test."""
    conn = imaplib.IMAP4("127.0.0.1", dovecot_server.imap_port, timeout=30)
    try:
        conn.login(USER, PASSWORD)
        typ, folders = conn.list()
        for line in folders or []:
            name = line.decode().rsplit(" ", 1)[-1].strip('"')
            if name != "INBOX":
                conn.delete(name)
        typ, data = conn.select("INBOX")
        if int(data[0] or 0):
            conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            conn.expunge()
    finally:
        conn.logout()
    return dovecot_server
