"""SASL PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login) as step sequences."""

from __future__ import annotations

import pytest

from tidings.auth.sasl import (
    PLAINTEXT_MECHANISMS,
    SaslChallenge,
    SaslCredentials,
    SaslFailure,
    decode_sasl_base64,
    encode_sasl_base64,
    mechanism_names,
    start_mechanism,
)


def test_supported_mechanisms_and_lookup() -> None:
    assert PLAINTEXT_MECHANISMS == ("PLAIN", "LOGIN")
    assert mechanism_names(plaintext_allowed=True, channel_binding=False) == (
        "PLAIN",
        "LOGIN",
        "SCRAM-SHA-256",
    )
    assert mechanism_names(plaintext_allowed=False, channel_binding=True) == (
        "SCRAM-SHA-256",
        "SCRAM-SHA-256-PLUS",
    )
    # Not offered while some account has no SCRAM secrets (Authenticator.scram_offered).
    assert mechanism_names(plaintext_allowed=True, channel_binding=True, scram=False) == (
        "PLAIN",
        "LOGIN",
    )
    assert start_mechanism("plain") is not None
    assert start_mechanism("Login") is not None
    assert start_mechanism("scram-sha-256") is not None
    # -PLUS exists only where the connection has something to bind to (RFC 5802 §6).
    assert start_mechanism("SCRAM-SHA-256-PLUS") is None
    assert start_mechanism("SCRAM-SHA-256-PLUS", channel_bindings={"tls-unique": b"x"})
    assert start_mechanism("CRAM-MD5") is None
    assert start_mechanism("") is None


def test_plain_with_initial_response() -> None:
    mechanism = start_mechanism("PLAIN")
    assert mechanism is not None
    step = mechanism.start(b"\x00alice@example.test\x00s3cret")
    assert step == SaslCredentials("", "alice@example.test", "s3cret")


def test_plain_without_initial_response_sends_empty_challenge() -> None:
    mechanism = start_mechanism("PLAIN")
    assert mechanism is not None
    assert mechanism.start(None) == SaslChallenge(b"")
    assert mechanism.step(b"\x00bob\x00pw") == SaslCredentials("", "bob", "pw")
    # Nothing more is expected after the one message.
    assert isinstance(mechanism.step(b"\x00bob\x00pw"), SaslFailure)


def test_plain_authzid_equal_to_authcid_is_accepted() -> None:
    mechanism = start_mechanism("PLAIN")
    assert mechanism is not None
    step = mechanism.start(b"Alice@Example.test\x00alice@example.test\x00pw")
    assert isinstance(step, SaslCredentials)
    assert step.username == "alice@example.test"


@pytest.mark.parametrize(
    "message",
    [
        b"other@example.test\x00alice@example.test\x00pw",  # proxy authorization
        b"alice\x00pw",  # two fields
        b"\x00alice\x00pw\x00extra",  # four fields
        b"",  # nothing
        b"\x00\x00pw",  # empty authcid
        b"\x00alice\x00",  # empty password
        b"\x00al\xffice\x00pw",  # not UTF-8
    ],
)
def test_plain_rejects_bad_messages(message: bytes) -> None:
    mechanism = start_mechanism("PLAIN")
    assert mechanism is not None
    assert isinstance(mechanism.start(message), SaslFailure)


def test_plain_utf8_password() -> None:
    mechanism = start_mechanism("PLAIN")
    assert mechanism is not None
    step = mechanism.start("\x00u\x00pässwörd".encode())
    assert step == SaslCredentials("", "u", "pässwörd")


def test_login_sequence() -> None:
    mechanism = start_mechanism("LOGIN")
    assert mechanism is not None
    assert mechanism.start(None) == SaslChallenge(b"Username:")
    assert mechanism.step(b"alice@example.test") == SaslChallenge(b"Password:")
    assert mechanism.step(b"pw") == SaslCredentials("", "alice@example.test", "pw")
    assert isinstance(mechanism.step(b"more"), SaslFailure)


def test_login_initial_response_is_the_user_name() -> None:
    mechanism = start_mechanism("LOGIN")
    assert mechanism is not None
    assert mechanism.start(b"alice") == SaslChallenge(b"Password:")
    assert mechanism.step(b"pw") == SaslCredentials("", "alice", "pw")


@pytest.mark.parametrize(
    ("username", "password"), [(b"", b"pw"), (b"\xff", b"pw"), (b"a", b"\xfe")]
)
def test_login_rejects_bad_input(username: bytes, password: bytes) -> None:
    mechanism = start_mechanism("LOGIN")
    assert mechanism is not None
    mechanism.start(None)
    step = mechanism.step(username)
    if isinstance(step, SaslChallenge):
        step = mechanism.step(password)
    assert isinstance(step, SaslFailure)


def test_credentials_repr_hides_password() -> None:
    assert "hunter2" not in repr(SaslCredentials("", "alice", "hunter2"))


def test_base64_helpers() -> None:
    assert decode_sasl_base64("AGFsaWNlAHB3") == b"\x00alice\x00pw"
    assert decode_sasl_base64(b"AGFsaWNlAHB3") == b"\x00alice\x00pw"
    assert decode_sasl_base64("") == b""
    assert encode_sasl_base64(b"Username:") == "VXNlcm5hbWU6"


@pytest.mark.parametrize("text", ["AGF", "AG Fs", "!!!!", "é", "AGFsaWNlAHB3\n"])
def test_base64_rejects_invalid(text: str) -> None:
    with pytest.raises(ValueError):
        decode_sasl_base64(text)
