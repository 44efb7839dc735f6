"""AUTHENTICATE SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 7677, RFC 5802) over real sockets.

The client side is tests/support/scram_client.py, written from the RFC without the server's
code. Most tests run against a `tidings serve` process whose accounts were made by
`tidings user add` (so the CLI stored the SCRAM secrets); the in-process server covers
accounts made before SCRAM (no secrets until a password login), the failure throttle and
LOGINDISABLED connections.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import TidingsServer, make_server, run_cli
from tests.imap.harness import (
    OTHER_USER,
    PASSWORD,
    USER,
    InProcessServer,
    LineClient,
    server_with_limits,
)
from tests.support.scram_client import Imap, ScramClient, b64, scram, server_end_point, unb64

# Fast failures, so the wrong-password tests do not wait for the real delay.
_CONFIG = "[limits]\nauth_failure_delay = 0.0\nauth_max_delay = 0.0\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """One `tidings serve` for this module: IMAP with STARTTLS, and IMAPS."""
    data_dir = tmp_path_factory.mktemp("scram")
    config = data_dir / "fast.toml"
    config.write_text(_CONFIG)
    server = make_server(data_dir / "data")
    server.start("--config", str(config))
    yield server
    server.stop()


def fail_text(error: str) -> str:
    return f"A1 NO [AUTHENTICATIONFAILED] Authentication failed ({error})."


# ------------------------------------------------------------------ advertising


def test_scram_is_advertised_and_plus_only_over_tls(served: TidingsServer) -> None:
    with Imap(served.imap_port) as plain:
        assert "AUTH=SCRAM-SHA-256" in plain.capabilities()
        assert "AUTH=SCRAM-SHA-256-PLUS" not in plain.capabilities()
        # -PLUS is refused where it is not advertised (nothing to bind to).
        assert plain.command("A1", "AUTHENTICATE SCRAM-SHA-256-PLUS")[-1].startswith("A1 NO")
        plain.starttls()
        assert {"AUTH=SCRAM-SHA-256", "AUTH=SCRAM-SHA-256-PLUS"} <= set(plain.capabilities())
    with Imap(served.imaps_port, tls=True) as implicit:
        assert "AUTH=SCRAM-SHA-256-PLUS" in implicit.greeting


# ------------------------------------------------------------------ the exchange


def test_success_with_server_signature_then_authenticated(served: TidingsServer) -> None:
    with Imap(served.imap_port) as imap:
        client = ScramClient(served.user, served.password)
        reply = scram(imap, client)
        assert reply.startswith("A1 OK [CAPABILITY IMAP4rev1"), reply
        # The secrets `tidings user add` stored: 16-byte salt, the default 10000 iterations.
        assert len(client.salt) == 16 and client.iterations == 10000
        assert imap.command("A2", "SELECT INBOX")[-1].startswith("A2 OK")


def test_sasl_ir_initial_response_and_authzid(served: TidingsServer) -> None:
    with Imap(served.imap_port) as imap:
        client = ScramClient(served.user, served.password, authzid=served.user.upper())
        assert scram(imap, client, initial=True).startswith("A1 OK")


def test_wrong_password_and_unknown_user_fail_alike(served: TidingsServer) -> None:
    seen = {}
    for user, password in (
        (served.user, "wrong"),
        ("nobody@example.test", "wrong"),
        ("nobody@example.test", "wrong"),
    ):
        with Imap(served.imap_port) as imap:
            client = ScramClient(user, password)
            assert scram(imap, client) == fail_text("invalid-proof")
            seen.setdefault(user, []).append((client.salt, client.iterations))
    # No user enumeration: an unknown user gets a stable salt of the same shape.
    ((real_salt, real_iterations),) = seen[served.user]
    unknown = seen["nobody@example.test"]
    assert unknown[0] == unknown[1]
    assert len(unknown[0][0]) == len(real_salt) and unknown[0][0] != real_salt
    assert unknown[0][1] == real_iterations


def test_malformed_messages(served: TidingsServer) -> None:
    cases = [
        (b"hello", "invalid-encoding"),
        (b"n,,n=a=2Xb,r=abc", "invalid-username-encoding"),  # "=" must be =2C or =3D
        (b"n,,m=ext,n=alice,r=abc", "extensions-not-supported"),
        (b"n,,r=abc", "invalid-encoding"),
        (b"n,a=bob@example.test,n=alice@example.test,r=abc", "other-error"),  # authzid
        (b"q,,n=alice@example.test,r=abc", "invalid-encoding"),
        (b"n,,n=alice@example.test,r=ab\x7fc", "invalid-encoding"),
    ]
    for message, error in cases:
        with Imap(served.imap_port) as imap:
            imap.send("A1 AUTHENTICATE SCRAM-SHA-256")
            assert imap.line() == "+ "
            imap.send(b64(message))
            assert imap.line() == fail_text(error), message
    with Imap(served.imap_port) as imap:  # not base64 at all: a syntax error, BAD
        assert imap.command("A1", "AUTHENTICATE SCRAM-SHA-256 !!!")[-1].startswith("A1 BAD")
        # A client-final that echoes a different nonce.
        client = ScramClient(served.user, served.password)
        reply = scram(imap, client, final_nonce=client.nonce + "forged")
        assert reply == fail_text("other-error")


def test_client_aborts_with_star(served: TidingsServer) -> None:
    with Imap(served.imap_port) as imap:
        imap.send("A1 AUTHENTICATE SCRAM-SHA-256")
        assert imap.line() == "+ "
        imap.send("*")
        assert imap.line() == "A1 BAD Authentication aborted by client."
        # After server-first too (RFC 9051 §6.2.2: BAD).
        client = ScramClient(served.user, served.password)
        imap.send(f"A2 AUTHENTICATE SCRAM-SHA-256 {b64(client.first())}")
        assert imap.line().startswith("+ ")
        imap.send("*")
        assert imap.line() == "A2 BAD Authentication aborted by client."
        assert imap.command("A3", "NOOP")[-1].startswith("A3 OK")  # still usable


def test_non_empty_answer_to_server_final_fails(served: TidingsServer) -> None:
    with Imap(served.imap_port) as imap:
        client = ScramClient(served.user, served.password)
        imap.send(f"A1 AUTHENTICATE SCRAM-SHA-256 {b64(client.first())}")
        imap.send(b64(client.final(unb64(imap.line()[2:]))))
        assert client.verify(unb64(imap.line()[2:]))
        imap.send(b64(b"more"))
        assert imap.line() == fail_text("other-error")


# ------------------------------------------------------------------ channel binding


@pytest.mark.parametrize("how", ["imaps", "starttls"])
def test_plus_with_tls_server_end_point(served: TidingsServer, how: str) -> None:
    port = served.imaps_port if how == "imaps" else served.imap_port
    with Imap(port, tls=how == "imaps") as imap:
        if how == "starttls":
            imap.starttls()
        binding = server_end_point(imap.tls)
        client = ScramClient(
            served.user,
            served.password,
            cbind_flag="p",
            cb_name="tls-server-end-point",
            cb_data=binding,
        )
        assert scram(imap, client, "SCRAM-SHA-256-PLUS").startswith("A1 OK")


def test_plus_with_wrong_binding_or_unsupported_type(served: TidingsServer) -> None:
    cases = [
        ("tls-server-end-point", b"\x00" * 32, "channel-bindings-dont-match"),
        # RFC 9266 needs exported keying material, which Python's ssl cannot produce.
        ("tls-exporter", b"\x00" * 32, "unsupported-channel-binding-type"),
        # tls-unique is undefined for TLS 1.3 (RFC 8446 §C.5), which this connection uses.
        ("tls-unique", b"\x00" * 12, "unsupported-channel-binding-type"),
    ]
    for name, data, error in cases:
        with Imap(served.imaps_port, tls=True) as imap:
            assert imap.tls.version() == "TLSv1.3"
            client = ScramClient(
                served.user, served.password, cbind_flag="p", cb_name=name, cb_data=data
            )
            assert scram(imap, client, "SCRAM-SHA-256-PLUS") == fail_text(error), name


def test_plus_with_tls_unique_on_tls12(served: TidingsServer) -> None:
    with Imap(served.imaps_port, tls=True, tls12=True) as imap:
        assert imap.tls.version() == "TLSv1.2"
        unique = imap.tls.get_channel_binding("tls-unique")
        assert unique
        client = ScramClient(
            served.user, served.password, cbind_flag="p", cb_name="tls-unique", cb_data=unique
        )
        assert scram(imap, client, "SCRAM-SHA-256-PLUS").startswith("A1 OK")


def test_binding_flag_rules(served: TidingsServer) -> None:
    """RFC 5802 §6: `y` where the server advertised -PLUS is a downgrade; `p` needs -PLUS;
    -PLUS needs `p`; `y` without TLS (nothing to bind) is fine."""
    with Imap(served.imaps_port, tls=True) as imap:
        downgraded = ScramClient(served.user, served.password, cbind_flag="y")
        assert scram(imap, downgraded) == fail_text("server-does-support-channel-binding")
        binding = server_end_point(imap.tls)
        p_flag = ScramClient(
            served.user,
            served.password,
            cbind_flag="p",
            cb_name="tls-server-end-point",
            cb_data=binding,
        )
        assert scram(imap, p_flag) == fail_text("other-error")
        no_binding = ScramClient(served.user, served.password)
        assert scram(imap, no_binding, "SCRAM-SHA-256-PLUS").startswith("A1 NO")
    with Imap(served.imap_port) as plain:
        client = ScramClient(served.user, served.password, cbind_flag="y")
        assert scram(plain, client).startswith("A1 OK")


def test_non_plus_over_tls_still_works(served: TidingsServer) -> None:
    with Imap(served.imaps_port, tls=True) as imap:
        assert scram(imap, ScramClient(served.user, served.password)).startswith("A1 OK")


# ------------------------------------------------------------------ secrets follow the password


def test_user_passwd_replaces_the_scram_secrets(tmp_path: Path) -> None:
    server = make_server(tmp_path / "data")
    config = tmp_path / "fast.toml"
    config.write_text(_CONFIG)
    result = run_cli(
        server.data_dir, "user", "passwd", server.user, "--password-stdin", stdin="new one\n"
    )
    assert result.returncode == 0, result.stderr
    server.start("--config", str(config))
    try:
        with Imap(server.imap_port) as imap:
            old = ScramClient(server.user, server.password)
            assert scram(imap, old) == fail_text("invalid-proof")
            assert scram(imap, ScramClient(server.user, "new one")).startswith("A1 OK")
    finally:
        server.stop()


def test_account_without_secrets_gets_them_at_password_login(
    imap_server: InProcessServer,
) -> None:
    """The in-process server's accounts were made with a hash only, as before SCRAM: SCRAM
    fails like a wrong password and is not advertised until every account has secrets."""
    with Imap(imap_server.port) as imap:
        assert "AUTH=SCRAM-SHA-256" not in imap.greeting
        assert scram(imap, ScramClient(USER, PASSWORD)) == fail_text("invalid-proof")
        assert imap.command("L1", f'LOGIN {USER} "{PASSWORD}"')[-1].startswith("L1 OK")
    with Imap(imap_server.port) as imap:
        assert scram(imap, ScramClient(USER, PASSWORD)).startswith("A1 OK")
    with Imap(imap_server.port) as imap:
        assert "AUTH=SCRAM-SHA-256" not in imap.greeting  # bob has no secrets yet
        assert imap.command("L1", f'LOGIN {OTHER_USER} "{PASSWORD}"')[-1].startswith("L1 OK")
    with Imap(imap_server.port) as imap:
        assert "AUTH=SCRAM-SHA-256" in imap.greeting  # now every account can use it


def test_scram_allowed_where_plaintext_is_not(tmp_path: Path) -> None:
    """Off loopback without TLS: LOGINDISABLED, no PLAIN, but SCRAM (no password sent)."""
    server = InProcessServer(tmp_path, remote_peers=True).start()
    try:
        for user in (USER, OTHER_USER):  # PLAIN needs TLS here: seed the secrets through it
            login = LineClient(server.port)
            login.starttls()
            login.login(user)
            login.close()
        with Imap(server.port) as imap:
            assert "LOGINDISABLED" in imap.greeting
            assert "AUTH=SCRAM-SHA-256" in imap.greeting and "AUTH=PLAIN" not in imap.greeting
            assert scram(imap, ScramClient(USER, PASSWORD)).startswith("A1 OK")
    finally:
        server.stop()


def test_failed_scram_is_delayed_and_throttled(tmp_path: Path) -> None:
    with (
        server_with_limits(tmp_path, auth_failure_delay=0.3, auth_max_delay=0.3) as server,
        Imap(server.port) as imap,
    ):
        started = time.monotonic()
        assert scram(imap, ScramClient(USER, "wrong")) == fail_text("invalid-proof")
        assert time.monotonic() - started >= 0.3
        assert scram(imap, ScramClient(USER, "wrong")) == fail_text("invalid-proof")
        assert server.context is not None
        assert server.context.authenticator.failure_count("127.0.0.1") == 2
        # max_auth_failures_per_connection (3) counts SCRAM failures too.
        imap.send(f"A1 AUTHENTICATE SCRAM-SHA-256 {b64(b'garbage')}")
        assert imap.line() == fail_text("invalid-encoding")
        assert imap.line().startswith("* BYE")
