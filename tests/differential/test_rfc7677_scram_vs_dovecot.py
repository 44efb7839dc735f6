"""SCRAM-SHA-256 against Dovecot (`auth_mechanisms = ... scram-sha-256`) and Tidings with the
same independent client: the client is right if the reference accepts it, and both servers
answer alike where RFC 7677 leaves room.

Dovecot 2.3 has no channel binding, so it never advertises -PLUS and accepts `y` (RFC 5802
§6 allows that where the server cannot bind); Tidings refuses `y` over TLS because it does
advertise -PLUS there. Dovecot's failure text names no RFC 5802 error; ours does (see
DEVIATIONS.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import TidingsServer
from tests.support.dovecot import DovecotServer, skip_requested, start_dovecot
from tests.support.scram_client import Imap, ScramClient, scram


@pytest.fixture(scope="module")
def scram_dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """A private Dovecot that offers SCRAM-SHA-256 (its passdb has the plain passwords)."""
    if skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1: differential tests against Dovecot skipped")
    server = start_dovecot(
        tmp_path_factory.mktemp("dovecot-scram"), auth_mechanisms="plain login scram-sha-256"
    )
    yield server
    server.stop()


def _servers(
    dovecot: DovecotServer, tidings: TidingsServer
) -> list[tuple[str, int, int, str, str]]:
    return [
        ("dovecot", dovecot.imap_port, dovecot.imaps_port, dovecot.user, dovecot.password),
        ("tidings", tidings.imap_port, tidings.imaps_port, tidings.user, tidings.password),
    ]


def test_both_advertise_and_accept_the_same_client(
    scram_dovecot: DovecotServer, shared_server: TidingsServer
) -> None:
    for name, port, _, user, password in _servers(scram_dovecot, shared_server):
        imap = Imap(port)
        try:
            assert "AUTH=SCRAM-SHA-256" in imap.capabilities(), name
            client = ScramClient(user, password)
            reply = scram(imap, client)  # asserts the server signature
            assert reply.startswith("A1 OK"), (name, reply)
            assert client.iterations >= 4096, name
        finally:
            imap.close()


def test_both_refuse_a_wrong_password_with_authenticationfailed(
    scram_dovecot: DovecotServer, shared_server: TidingsServer
) -> None:
    replies = {}
    for name, port, _, user, _ in _servers(scram_dovecot, shared_server):
        imap = Imap(port)
        try:
            replies[name] = scram(imap, ScramClient(user, "wrong"))
        finally:
            imap.close()
    # DEVIATIONS.md S2: the same code; our text names the RFC 5802 error.
    assert replies["dovecot"] == "A1 NO [AUTHENTICATIONFAILED] Authentication failed."
    assert replies["tidings"] == (
        "A1 NO [AUTHENTICATIONFAILED] Authentication failed (invalid-proof)."
    )


def test_both_answer_abort_with_bad(
    scram_dovecot: DovecotServer, shared_server: TidingsServer
) -> None:
    for name, port, _, _, _ in _servers(scram_dovecot, shared_server):
        imap = Imap(port)
        try:
            imap.send("A1 AUTHENTICATE SCRAM-SHA-256")
            assert imap.line() == "+ ", name
            imap.send("*")
            assert imap.line().startswith("A1 BAD"), name
        finally:
            imap.close()


def test_y_flag_over_tls_differs_as_documented(
    scram_dovecot: DovecotServer, shared_server: TidingsServer
) -> None:
    replies = {}
    for name, _, tls_port, user, password in _servers(scram_dovecot, shared_server):
        imap = Imap(tls_port, tls=True)
        try:
            plus = "AUTH=SCRAM-SHA-256-PLUS" in imap.capabilities()
            replies[name] = (plus, scram(imap, ScramClient(user, password, cbind_flag="y")))
        finally:
            imap.close()
    assert replies["dovecot"][0] is False and replies["dovecot"][1].startswith("A1 OK")
    assert replies["tidings"][0] is True
    assert replies["tidings"][1] == (
        "A1 NO [AUTHENTICATIONFAILED] Authentication failed (server-does-support-channel-binding)."
    )
