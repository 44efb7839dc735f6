"""A real PostgreSQL server on loopback for the tests of the PostgreSQL backend.

Like tests/support/dovecot.py, this module installs the server from Debian's mirrors when it
is missing (`apt-get install postgresql`, once per machine: later runs reuse it) and runs a
private cluster: its own data dir, socket dir and log, all in one directory, listening only
on 127.0.0.1 on a free port with `trust` authentication. It never touches a system-wide
cluster (/var/lib/postgresql, port 5432) that the Debian package may have created.

The binaries are looked up in /usr/lib/postgresql/VERSION/bin (the highest version), never
on PATH: names like /usr/local/bin/pg_ctl may be anything on a given machine (on the
development box they are symlinks into /usr/lib/postgresql/15/bin, elsewhere they could be
another version's, or wrappers).

initdb, pg_ctl and postgres refuse to run as root, and the test machines run the tests as
root: then every server program runs as the `postgres` system user the Debian package
creates (subprocess's `user=`/`group=`, supplementary groups dropped), the cluster dir is
chowned to it, and its parents inside the temp dir get the search bit so it can reach it
(pytest's temp dirs are 0700). Not root, the programs run as ourselves. Client programs
(psql) connect over TCP as the database superuser `postgres` and run as whoever we are.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

POSTGRES_PACKAGE = "postgresql"
POSTGRES_ROOT = Path("/usr/lib/postgresql")
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres", "psql")
SYSTEM_USER = "postgres"  # the OS account the Debian package creates
SUPERUSER = "postgres"  # the database superuser initdb creates (--username)
TEST_DATABASE = "tidings_test"
MAX_CONNECTIONS = 300  # several server nodes, each with a pool, connect at once

# The same lock file as tests/support/apt.py: one apt-get at a time, across test processes.
_APT_LOCK = Path("/tmp/tidings-tests-apt.lock")
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# A unix socket path must fit in sockaddr_un.sun_path (108 bytes on Linux, NUL included).
_MAX_SOCKET_DIR = 107 - len("/.s.PGSQL.65535")
_PG_TIMEOUT = 120  # seconds pg_ctl waits for start/stop/restart


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def find_postgres_bin() -> Path | None:
    """The bin dir of the highest PostgreSQL version under /usr/lib/postgresql that has
    every program we need (the server package, not just the client), or None."""
    candidates = [
        bin_dir
        for bin_dir in POSTGRES_ROOT.glob("*/bin")
        if re.fullmatch(r"\d+(\.\d+)*", bin_dir.parent.name)
        and all(os.access(bin_dir / program, os.X_OK) for program in SERVER_PROGRAMS)
    ]
    return max(candidates, key=_version_key, default=None)


def _apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", *args],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def ensure_postgres_installed() -> Path:
    """The bin dir holding initdb, pg_ctl, postgres and psql, installing Debian's
    `postgresql` with apt-get first if there is none (then `apt-get update` and one more try
    if that install fails). Raises RuntimeError, with apt's output, when it is impossible."""
    found = find_postgres_bin()
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise RuntimeError(
            f"PostgreSQL server binaries are not under {POSTGRES_ROOT}/*/bin and apt-get is "
            "not available to install them"
        )
    if os.geteuid() != 0:
        raise RuntimeError(
            f"PostgreSQL server binaries are not under {POSTGRES_ROOT}/*/bin and we are not "
            f"root to `apt-get install {POSTGRES_PACKAGE}`: install it, or run as root"
        )
    with _APT_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find_postgres_bin()  # another test process may have installed it meanwhile
        if found is not None:
            return found
        result = _apt_get("install", "-y", "--no-install-recommends", POSTGRES_PACKAGE)
        if result.returncode != 0:
            update = _apt_get("update")
            result = _apt_get("install", "-y", "--no-install-recommends", POSTGRES_PACKAGE)
            if result.returncode != 0:
                raise RuntimeError(
                    f"`apt-get install {POSTGRES_PACKAGE}` failed (exit {result.returncode}), "
                    f"also after `apt-get update` (exit {update.returncode}).\n"
                    f"update stderr:\n{update.stderr[-2000:]}\n"
                    f"install stdout:\n{result.stdout[-3000:]}\n"
                    f"install stderr:\n{result.stderr[-3000:]}"
                )
    found = find_postgres_bin()
    if found is None:
        raise RuntimeError(
            f"apt-get installed {POSTGRES_PACKAGE} but no {POSTGRES_ROOT}/*/bin has all of "
            f"{', '.join(SERVER_PROGRAMS)}"
        )
    return found


@dataclass(frozen=True)
class _RunAs:
    """Who the server programs run as: the `postgres` system user when we are root."""

    uid: int
    gid: int
    home: str

    @property
    def switches(self) -> bool:
        return self.uid != os.geteuid()

    def popen_kwargs(self) -> dict[str, object]:
        if not self.switches:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _server_account() -> _RunAs:
    if os.geteuid() != 0:
        return _RunAs(os.geteuid(), os.getegid(), os.environ.get("HOME", "/"))
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        # The Debian package creates it; a half-installed machine may lack it.
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", SYSTEM_USER],
            capture_output=True,
            timeout=60,
            check=False,
        )
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise RuntimeError(
                f"running as root, but there is no `{SYSTEM_USER}` system user to run "
                "PostgreSQL as (initdb and postgres refuse root) and useradd failed"
            ) from None
    if entry.pw_uid == 0:
        raise RuntimeError(f"the `{SYSTEM_USER}` system user is root: PostgreSQL refuses it")
    return _RunAs(entry.pw_uid, entry.pw_gid, entry.pw_dir)


def _make_traversable(path: Path) -> None:
    """Let the server user reach `path`: add only the search bit (never listing) to its
    parents inside the temp dir (pytest's are 0700), like tests/support/dovecot.py."""
    temp_root = Path(tempfile.gettempdir()).resolve()
    for directory in path.parents:
        if directory == temp_root or temp_root not in directory.parents:
            break
        mode = directory.stat().st_mode
        if mode & stat.S_IXOTH == 0:
            os.chmod(directory, mode | stat.S_IXOTH)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _client_env() -> dict[str, str]:
    """Our environment without PG* variables (a PGSERVICE, PGOPTIONS or PGHOST of the
    machine must not redirect or alter the tests' connections)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


# Servers started by this process and not stopped yet: stopped at interpreter exit too, so
# no postgres outlives a pytest run that crashed before its fixture teardown.
_live: set[PostgresServer] = set()


@dataclass(eq=False)
class PostgresServer:
    """A private PostgreSQL cluster on 127.0.0.1: its port, its DSN, where its files are."""

    bin_dir: Path
    base_dir: Path
    port: int
    socket_dir: Path
    run_as: _RunAs = field(repr=False)
    database: str = TEST_DATABASE
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    _owned_socket_dir: bool = field(default=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def dsn(self) -> str:
        """libpq/asyncpg DSN of the test database, e.g.
        postgresql://postgres@127.0.0.1:PORT/tidings_test."""
        return self.dsn_for(self.database)

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def log_text(self) -> str:
        """What the server logged so far (start-up failures are explained there)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # --- running programs ------------------------------------------------------------------

    def _run_server_program(
        self, program: str, *args: str, timeout: float = _PG_TIMEOUT + 30
    ) -> subprocess.CompletedProcess[str]:
        """Run initdb/pg_ctl as the server user, in base_dir (our cwd may be unreadable)."""
        env = _client_env()
        env.update(HOME=self.run_as.home, LC_ALL="C", LANG="C")
        if self.run_as.switches:
            for key in ("USER", "LOGNAME"):
                env[key] = SYSTEM_USER
        return subprocess.run(
            [str(self.bin_dir / program), *args],
            cwd=self.base_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **self.run_as.popen_kwargs(),
        )

    def _pg_ctl(self, action: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run_server_program(
            "pg_ctl", action, "-D", str(self.data_dir), "-w", "-t", str(_PG_TIMEOUT), *args
        )

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run `sql` with psql (unaligned, tuples only, stop on error) and return its output,
        stripped. Raises RuntimeError with psql's stderr on failure."""
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                self.dsn_for(database or self.database),
                "-c",
                sql,
            ],
            env=_client_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"psql failed (exit {result.returncode}) on {sql!r}:\n{result.stderr}"
            )
        return result.stdout.strip()

    # --- life cycle ------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._pg_ctl("status").returncode == 0

    def start(self) -> None:
        """Start the (stopped or killed) cluster and wait until it accepts connections."""
        result = self._pg_ctl("start", "-l", str(self.log_path))
        if result.returncode != 0:
            raise RuntimeError(
                f"pg_ctl start failed (exit {result.returncode}):\n{result.stdout}"
                f"{result.stderr}\n--- postgres.log ---\n{self.log_text()[-4000:]}"
            )
        _live.add(self)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: disconnect every client (they see the connection drop),
        shut down cleanly and start again on the same port, with the same data."""
        result = self._pg_ctl("restart", "-m", "fast", "-l", str(self.log_path))
        if result.returncode != 0:
            raise RuntimeError(
                f"pg_ctl restart failed (exit {result.returncode}):\n{result.stdout}"
                f"{result.stderr}\n--- postgres.log ---\n{self.log_text()[-4000:]}"
            )
        _live.add(self)

    def kill(self) -> None:
        """Stop like a crash (`pg_ctl stop -m immediate`: no shutdown checkpoint, WAL
        recovery at the next `start()`); committed data survives, as after a power cut."""
        self._stop("immediate")

    def stop(self) -> None:
        """Stop cleanly (`pg_ctl stop -m fast`), escalating to immediate, then SIGKILL."""
        self._stop("fast")

    def _stop(self, mode: str) -> None:
        _live.discard(self)
        if not (self.data_dir / "postmaster.pid").exists():
            return
        result = self._pg_ctl("stop", "-m", mode)
        if result.returncode == 0 or not (self.data_dir / "postmaster.pid").exists():
            return
        if mode != "immediate" and self._pg_ctl("stop", "-m", "immediate").returncode == 0:
            return
        self._kill_postmaster()

    def _kill_postmaster(self) -> None:
        """Last resort: SIGKILL the postmaster named in postmaster.pid (its backends notice
        the postmaster's death and exit by themselves)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises ProcessLookupError once it is gone
                time.sleep(0.05)

    def destroy(self) -> None:
        """Stop the server and delete the cluster dir (and the socket dir if ours)."""
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)
        if self._owned_socket_dir:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    # --- databases -------------------------------------------------------------------------

    def new_database(self, name: str) -> str:
        """CREATE DATABASE `name` (a fresh, empty copy of template1: cheap) and return its
        DSN. `name` must be a plain lower-case identifier."""
        if not _DATABASE_NAME.fullmatch(name):
            raise ValueError(f"not a plain lower-case database name: {name!r}")
        self.psql(f'CREATE DATABASE "{name}"', database="postgres")
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE `name`, disconnecting whoever is still connected to it."""
        if not _DATABASE_NAME.fullmatch(name):
            raise ValueError(f"not a plain lower-case database name: {name!r}")
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', database="postgres")


def _write_config(server: PostgresServer) -> None:
    """Settings for tests, in the cluster's own config (so `pg_ctl restart` keeps them),
    and a pg_hba.conf that trusts the unix socket and 127.0.0.1 only."""
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(server.port),
        "unix_socket_directories": f"'{server.socket_dir}'",
        "unix_socket_permissions": "0700",
        "max_connections": str(MAX_CONNECTIONS),
        "shared_buffers": "'64MB'",
        "timezone": "'UTC'",
        "log_timezone": "'UTC'",
        "logging_collector": "off",
        "log_min_messages": "warning",
        "log_line_prefix": "'%m [%p] %d '",
        "jit": "off",  # start-up cost per query, no gain on a test's small tables
    }
    with (server.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\n# Written by tests/support/postgres.py: a private cluster for tests.\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    (server.data_dir / "pg_hba.conf").write_text(
        "# Written by tests/support/postgres.py: loopback only, no passwords.\n"
        "local all all trust\n"
        "host all all 127.0.0.1/32 trust\n"
    )


def start_postgres(base_dir: Path, database: str = TEST_DATABASE) -> PostgresServer:
    """initdb a fresh cluster in `base_dir` (which must not hold one yet), start it on a
    free port of 127.0.0.1, create `database`, and return the running server. Call
    `destroy()` (or at least `stop()`) when done; an atexit hook stops it otherwise.

    As root, the `postgres` user must be able to reach `base_dir` for the server's whole
    life: prefer a fresh `tempfile.mkdtemp()` over a dir under pytest's basetemp, whose
    0700 parents another pytest session may reset at any time."""
    bin_dir = ensure_postgres_installed()
    run_as = _server_account()
    base_dir = Path(base_dir).resolve()
    base_dir.mkdir(parents=True, exist_ok=True)
    socket_dir = base_dir / "run"
    owned_socket_dir = False
    if len(str(socket_dir)) > _MAX_SOCKET_DIR:
        socket_dir = Path(tempfile.mkdtemp(prefix="tidings-pg-"))
        owned_socket_dir = True
    socket_dir.mkdir(exist_ok=True)
    if run_as.switches:
        _make_traversable(base_dir)
        os.chmod(base_dir, 0o700)
        for path in {base_dir, socket_dir}:
            os.chown(path, run_as.uid, run_as.gid)
    server = PostgresServer(
        bin_dir=bin_dir,
        base_dir=base_dir,
        port=_free_port(),
        socket_dir=socket_dir,
        run_as=run_as,
        database=database,
        _owned_socket_dir=owned_socket_dir,
    )
    result = server._run_server_program(
        "initdb",
        "-D",
        str(server.data_dir),
        f"--username={SUPERUSER}",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C",
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"initdb failed (exit {result.returncode}) in {server.data_dir}:\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    _write_config(server)
    # The port was free a moment ago; if something took it since, try another one.
    for attempt in range(3):
        try:
            server.start()
            break
        except RuntimeError:
            if attempt == 2 or "could not bind" not in server.log_text():
                server.destroy()
                raise
            server.port = _free_port()
            _write_config(server)  # the later `port =` line wins
    try:
        server.new_database(database)
    except BaseException:
        server.destroy()
        raise
    return server


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.kill()
