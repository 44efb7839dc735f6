"""The asyncio IMAP client: one connection, commands read on demand (RFC 9051 §2.2)."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from tidings.imap.client.errors import (
    AuthenticationFailed,
    CertificateProblem,
    CommandFailed,
    ConnectionLost,
    Endpoint,
    ImapError,
)
from tidings.imap.client.tls import check_fingerprint, make_context
from tidings.imap.proto.client_responses import (
    NEED_DATA,
    Capability,
    Condition,
    Continuation,
    Enabled,
    NeedData,
    ResponseError,
    ResponseParser,
    Tagged,
    Untagged,
    quote,
)

_ATOM_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&'+,-./:;<=>?@^_`|~[]\\*%"
)


@dataclass
class CommandResult:
    """A completed command: its tagged OK (with response code) and the untagged it got."""

    tagged: Tagged
    untagged: list[Untagged] = field(default_factory=list)


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _set_keepalive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _encode_arg(arg: bytes | str) -> list[bytes]:
    """Pieces of one argument: a literal is a separate piece starting with `{`."""
    if isinstance(arg, bytes):
        return [arg]
    if arg and all(char in _ATOM_SAFE for char in arg):
        return [arg.encode("ascii")]
    if arg.isascii() and "\r" not in arg and "\n" not in arg and "\0" not in arg:
        return [quote(arg)]
    return [b"\0literal", arg.encode("utf-8")]


class ImapClient:
    """An authenticated-or-not IMAP connection; see connect()."""

    def __init__(
        self,
        endpoint: Endpoint,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        timeout: float,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.capabilities: frozenset[str] = frozenset()
        self.enabled: frozenset[str] = frozenset()
        self.greeting = Condition("OK", None, "")
        self.tls_active = endpoint.tls == "implicit"
        self._reader = reader
        self._writer = writer
        self._parser = ResponseParser()
        self._unsolicited: deque[Untagged] = deque()
        self.forward_during_command: Callable[[str, Untagged], bool] | None = None
        """Untagged responses during a command that are also news (RFC 5465 §5: NOTIFY
        events may come at any time): a copy goes to next_unsolicited when this says so."""
        self._current_command = ""
        self._counter = 0
        self._lost: str | None = None
        self._lock = asyncio.Lock()

    # ----------------------------------------------------------------- connect
    @classmethod
    async def connect(
        cls,
        endpoint: Endpoint,
        *,
        timeout: float = 30,  # noqa: ASYNC109 - the interface takes timeouts
        tcp_keepalive: bool = True,
    ) -> ImapClient:
        """Connect, read the greeting, do STARTTLS if asked, and learn the capabilities."""
        context = make_context(endpoint) if endpoint.tls in ("implicit", "starttls") else None
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that races the inner result, and a watcher told to stop would never stop.
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    endpoint.host,
                    endpoint.port,
                    ssl=context if endpoint.tls == "implicit" else None,
                    server_hostname=endpoint.host if endpoint.tls == "implicit" else None,
                )
        except ssl.SSLCertVerificationError as error:
            raise CertificateProblem(f"certificate verification failed: {error}") from None
        except (TimeoutError, OSError, ssl.SSLError) as error:
            raise ConnectionLost(
                f"cannot connect to {endpoint.host}:{endpoint.port}: {error}"
            ) from None
        client = cls(endpoint, reader, writer, timeout)
        try:
            if tcp_keepalive:
                _set_keepalive(writer)
            if endpoint.tls == "implicit":
                check_fingerprint(endpoint, writer.get_extra_info("ssl_object"))
            await client._read_greeting()
            if endpoint.tls == "starttls":
                assert context is not None
                await client._starttls(context)
            if not client.capabilities:
                await client.refresh_capabilities()
        except BaseException:
            client.close()
            raise
        return client

    async def _read_greeting(self) -> None:
        response = await self._read(time.monotonic() + self.timeout)
        if not isinstance(response, Condition) or response.status not in ("OK", "PREAUTH"):
            raise ConnectionLost(f"unexpected greeting: {response}")
        self.greeting = response
        self._take_capability_code(response)

    async def _starttls(self, context: ssl.SSLContext) -> None:
        """STARTTLS (RFC 9051 §6.2.1); required unless on loopback and not offered."""
        if not self.capabilities:
            await self.refresh_capabilities()
        if "STARTTLS" not in self.capabilities:
            if is_loopback(self.endpoint.host):
                return
            raise ImapError(f"{self.endpoint.host} does not offer STARTTLS")
        await self.command("STARTTLS")
        if self._parser.has_buffered():
            raise ConnectionLost("data injected before TLS negotiation")
        try:
            async with asyncio.timeout(self.timeout):
                await self._writer.start_tls(context, server_hostname=self.endpoint.host)
        except ssl.SSLCertVerificationError as error:
            raise CertificateProblem(f"certificate verification failed: {error}") from None
        except (TimeoutError, OSError, ssl.SSLError) as error:
            raise ConnectionLost(f"TLS negotiation failed: {error}") from None
        check_fingerprint(self.endpoint, self._writer.get_extra_info("ssl_object"))
        self.tls_active = True
        self.capabilities = frozenset()  # RFC 9051 §6.2.1: discard what was learnt before
        await self.refresh_capabilities()

    async def refresh_capabilities(self) -> None:
        """Send CAPABILITY and remember the answer."""
        result = await self.command("CAPABILITY")
        for item in result.untagged:
            if isinstance(item, Capability):
                self.capabilities = item.names

    def _take_capability_code(self, response: Condition | Tagged) -> bool:
        if response.code is not None and response.code.name == "CAPABILITY":
            self.capabilities = frozenset(response.code.arguments.upper().split())
            return True
        return False

    # ------------------------------------------------------------------ reading
    async def _read(self, deadline: float) -> Tagged | Continuation | Untagged:
        """The next response; ConnectionLost on EOF, timeout, garbage or BYE."""
        if self._lost is not None:
            raise ConnectionLost(self._lost)
        while True:
            try:
                response = self._parser.next_response()
            except ResponseError as error:
                raise self._lose(f"bad response from server: {error}") from None
            if response is not NEED_DATA:
                assert not isinstance(response, NeedData)
                if isinstance(response, Condition) and response.status == "BYE":
                    raise self._lose(f"server said BYE: {response.text}")
                return response
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._lose("timed out waiting for the server")
            try:
                async with asyncio.timeout(remaining):
                    data = await self._reader.read(65536)
            except TimeoutError:
                raise self._lose("timed out waiting for the server") from None
            except (OSError, ssl.SSLError) as error:
                raise self._lose(f"connection failed: {error}") from None
            if not data:
                raise self._lose("server closed the connection")
            self._parser.feed(data)

    def _lose(self, reason: str) -> ConnectionLost:
        self._lost = reason
        self.close()
        return ConnectionLost(reason)

    async def _write(self, data: bytes, deadline: float) -> None:
        if self._lost is not None:
            raise ConnectionLost(self._lost)
        try:
            self._writer.write(data)
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self._writer.drain()
        except TimeoutError:
            raise self._lose("timed out sending to the server") from None
        except (OSError, ssl.SSLError) as error:
            raise self._lose(f"connection failed: {error}") from None

    # ----------------------------------------------------------------- commands
    def _next_tag(self) -> str:
        self._counter += 1
        return f"W{self._counter}"

    async def command(
        self,
        name: str,
        *args: bytes | str,
        timeout: float | None = None,  # noqa: ASYNC109 - the interface takes timeouts
    ) -> CommandResult:
        """Send one command and wait for its completion (RFC 9051 §2.2.2).

        bytes args go verbatim, str as atom, quoted string or literal (LITERAL+ when offered).
        Raises CommandFailed on NO/BAD, ConnectionLost on timeout, EOF or BYE."""
        async with self._lock:
            return await self._command(name, args, timeout, None)

    async def _command(
        self,
        name: str,
        args: tuple[bytes | str, ...],
        timeout: float | None,  # noqa: ASYNC109 - the interface takes timeouts
        responder: list[bytes] | None,
    ) -> CommandResult:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._current_command = name.upper()
        tag = self._next_tag()
        pieces: list[bytes] = [f"{tag} {name}".encode("ascii")]
        literal_plus = "LITERAL+" in self.capabilities or "LITERAL-" in self.capabilities
        untagged: list[Untagged] = []
        chunk = b" ".join(pieces)
        for arg in args:
            parts = _encode_arg(arg)
            if parts[0] != b"\0literal":
                chunk += b" " + parts[0]
                continue
            data = parts[1]
            if literal_plus and (len(data) <= 4096 or "LITERAL+" in self.capabilities):
                chunk += b" {%d+}\r\n" % len(data) + data
                continue
            await self._write(chunk + b" {%d}\r\n" % len(data), deadline)
            await self._await_continuation(tag, deadline, untagged)
            chunk = data
        await self._write(chunk + b"\r\n", deadline)
        return await self._finish(tag, deadline, untagged, responder)

    async def _await_continuation(
        self, tag: str, deadline: float, untagged: list[Untagged]
    ) -> Continuation:
        while True:
            response = await self._read(deadline)
            if isinstance(response, Continuation):
                return response
            if isinstance(response, Tagged):
                self._check_tagged(response, tag)
                raise CommandFailed(response)
            self._keep(response, untagged)

    async def _finish(
        self,
        tag: str,
        deadline: float,
        untagged: list[Untagged],
        responder: list[bytes] | None,
    ) -> CommandResult:
        while True:
            response = await self._read(deadline)
            if isinstance(response, Continuation):
                # SASL exchange: answer with the next prepared line, or cancel with "*".
                reply = responder.pop(0) if responder else b"*"
                await self._write(reply + b"\r\n", deadline)
                continue
            if isinstance(response, Tagged):
                self._check_tagged(response, tag)
                self._take_capability_code(response)
                if response.status != "OK":
                    raise CommandFailed(response)
                return CommandResult(response, untagged)
            if isinstance(response, Capability):
                self.capabilities = response.names
            elif isinstance(response, Enabled):
                self.enabled = self.enabled | response.names
            self._keep(response, untagged)

    def _keep(self, response: Untagged, untagged: list[Untagged]) -> None:
        untagged.append(response)
        forward = self.forward_during_command
        if forward is not None and forward(self._current_command, response):
            self._unsolicited.append(response)

    def _check_tagged(self, response: Tagged, tag: str) -> None:
        if response.tag != tag:
            raise self._lose(f"unexpected tagged response {response.tag}")

    # ----------------------------------------------------------- authentication
    def _check_plaintext_allowed(self) -> None:
        if not self.tls_active and not is_loopback(self.endpoint.host):
            raise ImapError("refusing to send a password without TLS to a non-loopback host")

    async def login(self, user: str, password: str) -> None:
        """AUTHENTICATE PLAIN (RFC 4616, SASL-IR RFC 4959) if offered, else LOGIN."""
        self._check_plaintext_allowed()
        if "AUTH=PLAIN" in self.capabilities:
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
            await self._authenticate("PLAIN", token)
        else:
            if "LOGINDISABLED" in self.capabilities:
                raise ImapError("server disables LOGIN and offers no AUTH=PLAIN")
            try:
                async with self._lock:
                    result = await self._command("LOGIN", (user, password), None, None)
            except CommandFailed as error:
                raise AuthenticationFailed(f"login failed: {error.tagged.text}") from None
            await self._after_auth(result)

    async def authenticate_oauth(self, mechanism: str, user: str, token: str) -> None:
        """XOAUTH2 (Google's) or OAUTHBEARER (RFC 7628 §3.1) with a bearer token."""
        self._check_plaintext_allowed()
        mechanism = mechanism.upper()
        if mechanism == "XOAUTH2":
            raw = f"user={user}\x01auth=Bearer {token}\x01\x01"
        elif mechanism == "OAUTHBEARER":
            host, port = self.endpoint.host, self.endpoint.port
            raw = f"n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
        else:
            raise ImapError(f"unknown OAuth mechanism {mechanism}")
        await self._authenticate(mechanism, base64.b64encode(raw.encode()).decode("ascii"))

    async def _authenticate(self, mechanism: str, initial: str) -> None:
        """AUTHENTICATE (RFC 9051 §6.2.2), with an initial response when SASL-IR is offered.

        An error challenge (RFC 7628 §3.2.2) is answered with an empty line (the server then
        sends NO)."""
        if "SASL-IR" in self.capabilities:
            args: tuple[bytes | str, ...] = (mechanism, initial.encode("ascii") or b"=")
            responder = [b""]
        else:
            args = (mechanism,)
            responder = [initial.encode("ascii"), b""]
        try:
            async with self._lock:
                result = await self._command("AUTHENTICATE", args, None, responder)
        except CommandFailed as error:
            raise AuthenticationFailed(f"authentication failed: {error.tagged.text}") from None
        await self._after_auth(result)

    async def _after_auth(self, result: CommandResult) -> None:
        """Capabilities may change after login (RFC 9051 §6.2.3)."""
        if not self._take_capability_code(result.tagged) and not any(
            isinstance(item, Capability) for item in result.untagged
        ):
            await self.refresh_capabilities()

    # ------------------------------------------------------------- unsolicited
    async def next_unsolicited(self, timeout: float) -> Untagged | None:  # noqa: ASYNC109 - the interface takes timeouts
        """The next untagged response received outside a command, or None after timeout."""
        if self._unsolicited:
            return self._unsolicited.popleft()
        async with self._lock:
            deadline = time.monotonic() + timeout
            try:
                return await self._read_untagged(deadline)
            except _Quiet:
                return None

    async def _read_untagged(self, deadline: float) -> Untagged:
        """One untagged response before deadline; _Quiet if nothing came."""
        if self._lost is not None:
            raise ConnectionLost(self._lost)
        try:
            response = self._parser.next_response()
        except ResponseError as error:
            raise self._lose(f"bad response from server: {error}") from None
        if response is NEED_DATA:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Quiet
            try:
                async with asyncio.timeout(remaining):
                    data = await self._reader.read(65536)
            except TimeoutError:
                raise _Quiet from None
            except (OSError, ssl.SSLError) as error:
                raise self._lose(f"connection failed: {error}") from None
            if not data:
                raise self._lose("server closed the connection")
            self._parser.feed(data)
            return await self._read_untagged(deadline)
        assert not isinstance(response, NeedData)
        if isinstance(response, Condition) and response.status == "BYE":
            raise self._lose(f"server said BYE: {response.text}")
        if isinstance(response, (Tagged, Continuation)):
            raise self._lose(f"unexpected response outside a command: {response}")
        return response

    def idle(self, *, done_timeout: float = 30) -> IdleContext:
        """`async with client.idle() as idle:` — IDLE (RFC 2177, RFC 9051 §6.3.13)."""
        return IdleContext(self, done_timeout)

    # ------------------------------------------------------------------ closing
    async def logout(self) -> None:
        """LOGOUT (the BYE that precedes the OK is expected), then close."""
        if self._lost is None:
            try:
                async with self._lock:
                    tag = self._next_tag()
                    deadline = time.monotonic() + min(self.timeout, 10)
                    await self._write(f"{tag} LOGOUT\r\n".encode("ascii"), deadline)
                    while True:
                        try:
                            response = await self._read(deadline)
                        except ConnectionLost:
                            break
                        if isinstance(response, Tagged):
                            break
            except ConnectionLost:
                pass
        self.close()

    def close(self) -> None:
        """Drop the connection at once: abort, not close, so that a TLS connection does not
        wait for the peer's close_notify (the socket is released on the next loop turn,
        even when the loop ends right after)."""
        if self._lost is None:
            self._lost = "connection closed"
        self._writer.transport.abort()


class _Quiet(Exception):
    """Nothing arrived before the deadline (not an error while waiting for events)."""


class IdleContext:
    """An IDLE in progress; leaving the `async with` sends DONE and awaits the tagged OK."""

    def __init__(self, client: ImapClient, done_timeout: float) -> None:
        self._client = client
        self._done_timeout = done_timeout
        self._tag = ""
        self._pending: deque[Untagged] = deque()

    async def __aenter__(self) -> IdleContext:
        client = self._client
        await client._lock.acquire()
        try:
            self._tag = client._next_tag()
            deadline = time.monotonic() + client.timeout
            await client._write(f"{self._tag} IDLE\r\n".encode("ascii"), deadline)
            untagged: list[Untagged] = []
            await client._await_continuation(self._tag, deadline, untagged)
            self._pending.extend(untagged)
        except BaseException:
            client._lock.release()
            raise
        return self

    async def next(self, timeout: float) -> Untagged | None:  # noqa: ASYNC109 - the interface takes timeouts
        """The next untagged response during IDLE, or None after `timeout` seconds."""
        if self._pending:
            return self._pending.popleft()
        try:
            return await self._client._read_untagged(time.monotonic() + timeout)
        except _Quiet:
            return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        client = self._client
        try:
            if exc_type is not None:
                # Cancelled (shutting down) or failed inside: the connection is not in a
                # known state, and waiting for the server's OK could hold a stop up.
                client.close()
            elif client._lost is None:
                deadline = time.monotonic() + self._done_timeout
                await client._write(b"DONE\r\n", deadline)
                # What arrives between DONE and the tagged OK is kept for next_unsolicited.
                untagged: list[Untagged] = []
                await client._finish(self._tag, deadline, untagged, None)
                client._unsolicited.extend([*self._pending, *untagged])
        except ConnectionLost:
            if exc_type is None:
                raise
        finally:
            client._lock.release()
