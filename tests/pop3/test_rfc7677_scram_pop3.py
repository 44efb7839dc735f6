"""POP3 AUTH SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5034 §4, RFC 7677) over sockets.

The same shared SASL layer as IMAP; the client is tests/support/scram_client.py.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
from tests.conftest import TidingsServer, make_server
from tests.support.scram_client import ScramClient, b64, server_end_point, unb64


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """A `tidings serve` with POP3 and POP3S, accounts made by `tidings user add`."""
    data_dir = tmp_path_factory.mktemp("scram-pop3")
    config = data_dir / "fast.toml"
    config.write_text("[limits]\nauth_failure_delay = 0.0\nauth_max_delay = 0.0\n")
    server = make_server(data_dir / "data")
    server.start("--config", str(config))
    yield server
    server.stop()


class Pop3:
    """A raw POP3 connection."""

    def __init__(self, port: int, *, tls: bool = False) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=15)
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self.sock = context.wrap_socket(self.sock, server_hostname="localhost")
        self.buffer = b""
        assert self.line().startswith("+OK")

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode()

    def multiline(self, command: str) -> list[str]:
        self.send(command)
        assert self.line().startswith("+OK")
        lines = []
        while (line := self.line()) != ".":
            lines.append(line)
        return lines

    def scram(self, client: ScramClient, mechanism: str = "SCRAM-SHA-256") -> str:
        """AUTH with SASL-IR (RFC 5034 §4); the final +OK/-ERR line."""
        self.send(f"AUTH {mechanism} {b64(client.first())}")
        reply = self.line()
        if not reply.startswith("+ "):
            return reply
        self.send(b64(client.final(unb64(reply[2:]))))
        reply = self.line()
        if not reply.startswith("+ "):
            return reply
        assert client.verify(unb64(reply[2:]))
        self.send("")
        return self.line()

    def close(self) -> None:
        self.sock.close()


def test_capa_and_auth_list_scram(served: TidingsServer) -> None:
    plain = Pop3(served.pop3_port)
    try:
        assert "SASL PLAIN LOGIN SCRAM-SHA-256" in plain.multiline("CAPA")
        assert plain.multiline("AUTH") == ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
    finally:
        plain.close()
    implicit = Pop3(served.pop3s_port, tls=True)
    try:
        assert "SASL PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS" in implicit.multiline("CAPA")
    finally:
        implicit.close()


def test_scram_login_then_stat(served: TidingsServer) -> None:
    pop = Pop3(served.pop3_port)
    try:
        assert pop.scram(ScramClient(served.user, served.password)) == "+OK Logged in."
        pop.send("STAT")
        assert pop.line().startswith("+OK ")
        pop.send("QUIT")
        assert pop.line().startswith("+OK")
    finally:
        pop.close()


def test_wrong_password_is_an_auth_error(served: TidingsServer) -> None:
    pop = Pop3(served.pop3_port)
    try:
        reply = pop.scram(ScramClient(served.user, "wrong"))
        assert reply == "-ERR [AUTH] Authentication failed: SCRAM: wrong proof."
    finally:
        pop.close()


def test_plus_over_pop3s(served: TidingsServer) -> None:
    pop = Pop3(served.pop3s_port, tls=True)
    try:
        assert isinstance(pop.sock, ssl.SSLSocket)
        client = ScramClient(
            served.user,
            served.password,
            cbind_flag="p",
            cb_name="tls-server-end-point",
            cb_data=server_end_point(pop.sock),
        )
        assert pop.scram(client, "SCRAM-SHA-256-PLUS") == "+OK Logged in."
    finally:
        pop.close()


def test_abort_with_star(served: TidingsServer) -> None:
    pop = Pop3(served.pop3_port)
    try:
        pop.send("AUTH SCRAM-SHA-256")
        assert pop.line() == "+ "
        pop.send("*")
        assert pop.line() == "-ERR Authentication aborted by client."
    finally:
        pop.close()
