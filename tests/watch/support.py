"""Helpers for the `tidings watch` end-to-end tests: the watcher as a subprocess, a webhook
receiver, a TCP proxy that can freeze (a server that stops answering), LMTP delivery."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import smtplib
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import tidings_command
from tests.support.dovecot import start_dovecot

SENDER = "sender@example.test"

Event = dict[str, Any]


class WatcherProcess:
    """`tidings watch ARGS...` as a child process; its stdout JSON lines are collected by a
    reader thread, its stderr lines by another."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.process = subprocess.Popen(
            tidings_command("watch", *args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self._lock = threading.Condition()
        self._events: list[tuple[float, Event]] = []
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.stdout_lines.append(line)
                with contextlib.suppress(ValueError):
                    parsed = json.loads(line)
                    if isinstance(parsed, dict):
                        self._events.append((time.monotonic(), parsed))
                self._lock.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            with self._lock:
                self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._lock.notify_all()

    def events(self, kind: str | None = None) -> list[Event]:
        """The events printed so far, of `kind` if given."""
        with self._lock:
            return [e for _, e in self._events if kind is None or e.get("event") == kind]

    def timed_events(self, kind: str | None = None) -> list[tuple[float, Event]]:
        """(monotonic arrival time, event) pairs."""
        with self._lock:
            return [(t, e) for t, e in self._events if kind is None or e.get("event") == kind]

    def wait_for(
        self, predicate: Callable[[Event], bool], timeout: float = 15.0, count: int = 1
    ) -> list[Event]:
        """Wait until `count` events satisfy `predicate`; return them (AssertionError with the
        watcher's output on timeout or if it exits first)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [e for _, e in self._events if predicate(e)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and remaining < timeout - 1):
                    break
                self._lock.wait(min(remaining, 0.1))
        raise AssertionError(f"no matching event within {timeout} s\n{self.describe()}")

    def wait_for_stderr(self, needle: str, timeout: float = 15.0) -> str:
        """The first stderr line containing `needle`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while time.monotonic() < deadline:
                for line in self.stderr_lines:
                    if needle in line:
                        return line
                self._lock.wait(0.1)
        raise AssertionError(f"no stderr line with {needle!r}\n{self.describe()}")

    def wait_connected(self, timeout: float = 15.0) -> Event:
        """The first `connected` event."""
        return self.wait_for(lambda e: e.get("event") == "connected", timeout)[0]

    def describe(self) -> str:
        """The watcher's argv, exit status and output, for assertion messages."""
        with self._lock:
            out = "\n".join(self.stdout_lines[-50:])
            err = "\n".join(self.stderr_lines[-80:])
        return (
            f"argv: {self.args}\nexit: {self.process.poll()}\n"
            f"--- stdout ---\n{out}\n--- stderr ---\n{err}"
        )

    def wait_exit(self, timeout: float = 20.0) -> int:
        """Wait for the process to end on its own; its exit status (AssertionError, after
        killing it, if it is still running after `timeout`)."""
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout} s\n{self.describe()}") from None
        self._join()
        return status

    def _join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait; the exit status (killed if it does not end in `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        """SIGKILL, no chance to persist anything."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=20)
        self._join()

    def __enter__(self) -> WatcherProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.kill()


@dataclass(frozen=True, slots=True)
class Request:
    """One request the webhook receiver saw."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    time: float


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1 in a thread that records every request; the first
    `fail_first` requests get `500`, the rest `204`."""

    fail_first: int = 0
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self
        self._lock = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    status = 500 if len(receiver.requests) < receiver.fail_first else 204
                    receiver.requests.append(
                        Request(
                            "POST",
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            status,
                            time.monotonic(),
                        )
                    )
                    receiver._lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def accepted(self) -> list[Request]:
        """Requests answered with 2xx."""
        with self._lock:
            return [r for r in self.requests if r.status < 300]

    def wait_for(
        self, predicate: Callable[[Request], bool], timeout: float = 15.0, count: int = 1
    ) -> list[Request]:
        """Wait until `count` requests satisfy `predicate`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [r for r in self.requests if predicate(r)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"webhook: {len(found)} of {count} requests within {timeout} s; "
                        f"saw {[(r.status, r.body[:200]) for r in self.requests]}"
                    )
                self._lock.wait(min(remaining, 0.1))

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class FreezableProxy:
    """A TCP proxy 127.0.0.1:port -> 127.0.0.1:target in a selector thread. `freeze()`
    stops forwarding in both directions while the sockets stay open (a server that no longer
    answers, as after a network change); `thaw()` resumes; `cut()` closes every connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.port = int(self.listener.getsockname()[1])
        self.frozen = threading.Event()
        self.accepted = 0
        self.client_bytes = bytearray()  # everything clients sent, for inspection
        self.client_chunks: list[tuple[float, int]] = []  # (monotonic time, size) per recv
        self._lock = threading.Lock()
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._cut = threading.Event()
        self._closing = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def freeze(self) -> None:
        """Stop forwarding (bytes stay in the kernel buffers, not dropped, until thaw)."""
        self.frozen.set()

    def thaw(self) -> None:
        """Forward again, held bytes first."""
        self.frozen.clear()

    def cut(self) -> None:
        """Close every current connection (both sides)."""
        self._cut.set()

    def client_text(self) -> str:
        """What clients sent so far through the proxy."""
        with self._lock:
            return self.client_bytes.decode("utf-8", "replace")

    def client_sends_since(self, since: float) -> int:
        """How many separate client writes arrived after `since` (works through TLS)."""
        with self._lock:
            return sum(1 for at, _ in self.client_chunks if at >= since)

    def _close_pair(self, sock: socket.socket) -> None:
        other = self._pairs.pop(sock, None)
        for s in (sock, other):
            if s is None:
                continue
            self._pairs.pop(s, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(s)
            s.close()

    def _run(self) -> None:
        while not self._closing.is_set():
            if self._cut.is_set():
                self._cut.clear()
                for sock in list(self._pairs):
                    self._close_pair(sock)
            for key, _ in self._selector.select(timeout=0.05):
                fileobj = key.fileobj
                if not isinstance(fileobj, socket.socket):
                    continue
                sock = fileobj
                if sock is self.listener:
                    self._accept()
                    continue
                if self.frozen.is_set():
                    continue  # leave the bytes in the kernel buffer
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._close_pair(sock)
                    continue
                if key.data == "client":
                    with self._lock:
                        self.client_bytes += data
                        self.client_chunks.append((time.monotonic(), len(data)))
                peer = self._pairs.get(sock)
                if peer is not None:
                    try:
                        peer.sendall(data)
                    except OSError:
                        self._close_pair(sock)
            if self.frozen.is_set():
                time.sleep(0.02)

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        self.accepted += 1
        for s, role in ((client, "client"), (upstream, "server")):
            s.setblocking(True)
            s.settimeout(5)
            self._selector.register(s, selectors.EVENT_READ, role)
        self._pairs[client] = upstream
        self._pairs[upstream] = client

    def close(self) -> None:
        """Stop the thread, close everything."""
        self._closing.set()
        self.thread.join(timeout=5)
        for sock in list(self._pairs):
            self._close_pair(sock)
        self._selector.close()
        self.listener.close()


def unique_subject(prefix: str = "watch") -> str:
    """A subject no other test uses."""
    return f"{prefix} {uuid.uuid4().hex[:12]}"


def make_message(subject: str, *, extra_headers: str = "", body: str = "Hello.\r\n") -> bytes:
    """A small RFC 5322 message."""
    return (
        f"From: Carol Sender <{SENDER}>\r\n"
        f"To: alice@example.test\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@example.test>\r\n"
        f"Date: Wed, 02 Dec 2026 23:00:00 +0000\r\n"
        f"{extra_headers}"
        f"\r\n{body}"
    ).encode()


def deliver_lmtp(
    port: int, rcpt: str, subject: str, *, extra_headers: str = "", host: str = "127.0.0.1"
) -> float:
    """Deliver one message over LMTP; the monotonic time at which the 250 came back."""
    message = make_message(subject, extra_headers=extra_headers)
    with smtplib.LMTP(host, port, timeout=15) as client:
        refused = client.sendmail(SENDER, [rcpt], message)
        done = time.monotonic()
    assert not refused, refused
    return done


def start_watch_dovecot(base_dir: Path, *, without_idle: bool = False) -> Any:
    """A private Dovecot (tests/support/dovecot.py); `without_idle` trims its
    `imap_capability` to a list without IDLE and NOTIFY (for polling mode)."""
    extra = ""
    if without_idle:
        extra = (
            "protocol imap {\n"
            "  imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE "
            "SORT UIDPLUS UNSELECT CHILDREN NAMESPACE SPECIAL-USE STATUS=SIZE\n"
            "}\n"
        )
    return start_dovecot(base_dir, extra_config=extra)
