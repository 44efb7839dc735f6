"""A real Dovecot on loopback for differential tests.

DESIGN.md makes Dovecot the reference for behaviour where an RFC leaves room. This module
installs `dovecot-imapd` from Debian's mirrors when it is missing and runs a private,
self-contained instance: its own config, runtime dir, mail, certificate and log, all in one
directory, on free ports of 127.0.0.1. It never touches the system's /etc/dovecot or a
system-wide Dovecot that may be running (`instance_name` and `base_dir` differ).

Running as root (the test machines are fresh Debian boxes where tests run as root), every
Dovecot process that reads files in `base_dir` runs as root too: pytest's temp dirs are mode
0700, so the unprivileged `dovecot` user could not read the passwd-file nor the mail there.
Only the login processes drop to `dovenull`; they are chrooted into base_dir by the master
before that, so they never need to traverse the 0700 parents.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

# The same accounts as tests/conftest.py (TEST_USER/TEST_PASSWORD, SECOND_USER/
# SECOND_PASSWORD). Duplicated, not imported: tests/conftest.py is loaded by pytest as a
# conftest plugin, not as an importable module, and importing it a second time under another
# name would register its fixtures twice.
DOVECOT_USER = "alice@example.test"
DOVECOT_PASSWORD = "correct horse battery staple"
DOVECOT_SECOND_USER = "bob@example.test"
DOVECOT_SECOND_PASSWORD = "bob's password"

DOVECOT_BINARY = Path("/usr/sbin/dovecot")
# The Debian packages and the service binary each one installs: IMAP, POP3 and LMTP, so
# LMTP and POP3 replies can be compared with Tidings' too.
DOVECOT_PACKAGES = {
    "dovecot-imapd": Path("/usr/lib/dovecot/imap"),
    "dovecot-pop3d": Path("/usr/lib/dovecot/pop3"),
    "dovecot-lmtpd": Path("/usr/lib/dovecot/lmtp"),
}
SKIP_ENV = "TIDINGS_SKIP_DOVECOT"

# Every account on Tidings has these mailboxes (with their RFC 6154 SPECIAL-USE attribute);
# the Dovecot instance gets the same so that LIST output is comparable.
SPECIAL_MAILBOXES = ("Drafts", "Sent", "Junk", "Trash", "Archive")

# apt-get update runs at most once per process.
_apt = {"updated": False}


def skip_requested() -> bool:
    """True when the environment asks to skip Dovecot tests (TIDINGS_SKIP_DOVECOT=1)."""
    return os.environ.get(SKIP_ENV, "") == "1"


def ensure_dovecot_installed() -> None:
    """Install dovecot-imapd, -pop3d and -lmtpd with apt-get unless they are all there.

    Raises RuntimeError with apt's output when the install fails: a differential test that
    cannot reach its reference must fail loudly, not skip.
    """
    missing = [name for name, binary in DOVECOT_PACKAGES.items() if not binary.exists()]
    if DOVECOT_BINARY.exists() and not missing:
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError("Dovecot is not installed and apt-get is not available to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = []
    if not _apt["updated"]:
        steps.append(["apt-get", "update"])
    steps.append(["apt-get", "install", "-y", *DOVECOT_PACKAGES])
    for argv in steps:
        result = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=900, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(argv)}` failed (exit {result.returncode}); cannot install Dovecot.\n"
                f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
            )
        if argv[1] == "update":
            _apt["updated"] = True
    for binary in (DOVECOT_BINARY, *DOVECOT_PACKAGES.values()):
        if not binary.exists():
            installed = ", ".join(DOVECOT_PACKAGES)
            raise RuntimeError(f"apt-get installed {installed} but {binary} is missing")


MAIL_SYSTEM_USER = "tidings-dovecot"


def _mail_owner() -> tuple[int, int]:
    """The uid/gid the imap processes run as: a dedicated system user, created on first use
    (we are root on a test machine), or `nobody` where useradd is unavailable."""
    try:
        entry = pwd.getpwnam(MAIL_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                MAIL_SYSTEM_USER,
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        try:
            entry = pwd.getpwnam(MAIL_SYSTEM_USER)
        except KeyError:
            entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _make_certificate(cert: Path, key: Path) -> None:
    """A self-signed certificate for localhost, with `openssl req` (always installed with
    Dovecot's ssl-cert dependency) or, failing that, the `cryptography` package."""
    if shutil.which("openssl"):
        result = subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "30",
                "-subj",
                "/CN=localhost",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode == 0:
            return
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class _Ports:
    imap: int
    imaps: int
    pop3: int
    pop3s: int
    lmtp: int


def _config(
    base_dir: Path, ports: _Ports, mail_uid: int, mail_gid: int, auth_mechanisms: str
) -> str:
    mailboxes = "\n".join(
        f"    mailbox {name} {{\n      auto = subscribe\n      special_use = \\{name}\n    }}"
        for name in SPECIAL_MAILBOXES
    )
    return f"""\
# Written by tests/support/dovecot.py: a private Dovecot for tests. Do not edit.
instance_name = tidings-test-{ports.imap}
base_dir = {base_dir}/run
state_dir = {base_dir}/state
protocols = imap pop3 lmtp
listen = 127.0.0.1
log_path = {base_dir}/dovecot.log
info_log_path = {base_dir}/dovecot.log
debug_log_path = {base_dir}/dovecot.log

# Everything that reads files under base_dir runs as root (see the module docstring).
default_internal_user = root
default_internal_group = root
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
# Dovecot refuses mail access as root, so the imap processes run as an unprivileged user;
# they chroot into base_dir/mail first (as root), so the 0700 temp dirs above don't matter.
mail_uid = {mail_uid}
mail_gid = {mail_gid}
mail_chroot = {base_dir}/mail
mail_home = /%u

ssl = yes
ssl_cert = <{base_dir}/cert.pem
ssl_key = <{base_dir}/key.pem
disable_plaintext_auth = no
auth_mechanisms = {auth_mechanisms}
auth_username_format = %Lu

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base_dir}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base_dir}/users
}}

mail_location = maildir:~/Maildir
mail_fsync = never
# Tidings sets $HasAttachment or $HasNoAttachment on every message it takes in (issue 9), so
# the reference does too: FLAGS then compare like for like, and an import from this Dovecot
# brings the keywords along.
mail_attachment_detection_options = add-flags
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {ports.imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ports.imaps}
    ssl = yes
  }}
  process_min_avail = 1
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {ports.pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {ports.pop3s}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {ports.lmtp}
  }}
}}
recipient_delimiter = +
protocol lmtp {{
  postmaster_address = postmaster@example.test
}}
service auth {{
  user = root
}}
service auth-worker {{
  user = root
}}
service anvil {{
  user = root
}}
service stats {{
  user = root
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
"""


@dataclass
class DovecotServer:
    """A running private Dovecot: where it listens, who can log in, where its files are."""

    host: str
    imap_port: int
    imaps_port: int
    user: str
    password: str
    base_dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    pop3_port: int = 0
    pop3s_port: int = 0
    lmtp_port: int = 0

    @property
    def config_path(self) -> Path:
        return self.base_dir / "dovecot.conf"

    def log_text(self) -> str:
        """What Dovecot logged so far (errors there explain failed logins or APPENDs)."""
        path = self.base_dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Ask the master to stop (`dovecot -c CONF stop`), then kill it if it lingers."""
        if self.process is None:
            return
        subprocess.run(
            [str(DOVECOT_BINARY), "-c", str(self.config_path), "stop"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # The master's children are in its process group (start_new_session below).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        self.process = None


def _read_greeting(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=2) as conn:
        conn.settimeout(2)
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        conn.sendall(b"z LOGOUT\r\n")
        return data


def _make_traversable(base_dir: Path) -> None:
    """Let the unprivileged mail user reach `base_dir/mail`: Dovecot's lmtp processes run as
    that user *without* the chroot the imap processes get, and pytest's temp dirs are 0700.
    Only the search (x) bit is added, on directories under the temp dir, never listing."""
    temp_root = Path(tempfile.gettempdir()).resolve()
    for directory in (base_dir, *base_dir.parents):
        if directory == temp_root or temp_root not in directory.parents:
            break
        mode = directory.stat().st_mode
        os.chmod(directory, mode | stat.S_IXOTH | stat.S_IXGRP)


def start_dovecot(
    base_dir: Path,
    auth_mechanisms: str = "plain login",
    extra_config: str = "",
    extra_users: Sequence[tuple[str, str]] = (),
) -> DovecotServer:
    """Write a self-contained config into `base_dir`, start Dovecot in the foreground as our
    child, and return once the IMAP port sends its `* OK` greeting. `auth_mechanisms` is
    Dovecot's setting of that name (e.g. "plain login scram-sha-256"); `extra_config` is
    appended to the generated config (e.g. a trimmed `imap_capability`); `extra_users`
    are (address, password) accounts beside the two test ones (the benchmarks')."""
    ensure_dovecot_installed()
    base_dir = Path(base_dir).resolve()
    base_dir.mkdir(parents=True, exist_ok=True)
    _make_traversable(base_dir)
    (base_dir / "mail").mkdir(exist_ok=True)
    _make_certificate(base_dir / "cert.pem", base_dir / "key.pem")
    (base_dir / "users").write_text(
        "".join(
            f"{user}:{{PLAIN}}{password}:::::\n"
            for user, password in (
                (DOVECOT_USER, DOVECOT_PASSWORD),
                (DOVECOT_SECOND_USER, DOVECOT_SECOND_PASSWORD),
                *extra_users,
            )
        )
    )
    chosen: set[int] = set()
    while len(chosen) < 5:
        chosen.add(_free_port())
    ports = _Ports(*sorted(chosen))
    imap_port, imaps_port = ports.imap, ports.imaps
    config = base_dir / "dovecot.conf"
    mail_uid, mail_gid = _mail_owner()
    for path in (
        base_dir / "mail",
        *(
            base_dir / "mail" / u
            for u in (DOVECOT_USER, DOVECOT_SECOND_USER, *(user for user, _ in extra_users))
        ),
    ):
        path.mkdir(exist_ok=True)
        if path.name != "mail":
            os.chown(path, mail_uid, mail_gid)
    config.write_text(_config(base_dir, ports, mail_uid, mail_gid, auth_mechanisms) + extra_config)
    log = open(base_dir / "master.out", "ab")  # noqa: SIM115 - handed to the process
    process = subprocess.Popen(
        [str(DOVECOT_BINARY), "-F", "-c", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    server = DovecotServer(
        host="127.0.0.1",
        imap_port=imap_port,
        imaps_port=imaps_port,
        user=DOVECOT_USER,
        password=DOVECOT_PASSWORD,
        base_dir=base_dir,
        process=process,
        pop3_port=ports.pop3,
        pop3s_port=ports.pop3s,
        lmtp_port=ports.lmtp,
    )
    deadline = time.monotonic() + 30
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.process = None
            raise RuntimeError(
                f"dovecot exited with {process.returncode} at start-up.\n"
                f"{(base_dir / 'master.out').read_text(errors='replace')}\n{server.log_text()}"
            )
        try:
            if _read_greeting(server.host, imap_port).startswith(b"* OK"):
                return server
        except OSError as error:
            last_error = error
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(
        f"dovecot did not greet on 127.0.0.1:{imap_port} within 30 s ({last_error}).\n"
        f"{server.log_text()}"
    )
