"""The sans-IO SCRAM-SHA-256 server (RFC 5802, RFC 7677), its secrets, SASLprep (RFC 4013),
the Authenticator's SCRAM side and the tls-server-end-point hash (RFC 5929 §4.1)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import run_cli

from tidings.auth.authenticator import Authenticator
from tidings.auth.passwords import hash_password
from tidings.auth.sasl import start_mechanism
from tidings.auth.sasl_steps import (
    SaslAuthenticated,
    SaslChallenge,
    SaslFailure,
    SaslNeedSecrets,
    SaslStep,
    ScramAccount,
)
from tidings.auth.saslprep import SaslprepError, saslprep
from tidings.auth.scram import (
    ScramError,
    ScramSha256Mechanism,
    decode_saslname,
    encode_saslname,
)
from tidings.auth.scram_secrets import (
    MIN_ITERATIONS,
    ScramSecrets,
    decoy_secrets,
    derive_secrets,
    normalize_password,
)
from tidings.cli import DEMO_ADDRESS, ensure_demo_account
from tidings.config import Config
from tidings.core.limits import Limits
from tidings.net.tls import make_self_signed_pem, server_end_point_hash
from tidings.storage.sqlite import SqliteBackend

# RFC 7677 §3, user "user", password "pencil".
RFC7677_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC7677_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC7677_CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC7677_SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
RFC7677_CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
RFC7677_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
PENCIL = derive_secrets("pencil", 4096, RFC7677_SALT)
# A self-signed certificate with an ecdsa-with-SHA1 signature (RFC 5929 §4.1's special case).
SHA1_SIGNED_PEM = b"""\
-----BEGIN CERTIFICATE-----
MIIBezCCASKgAwIBAgIUN084iUQl0SEIK0kNAsaFYScAwbMwCQYHKoZIzj0EATAU
MRIwEAYDVQQDDAlzaGExLnRlc3QwHhcNMjYxMjAyMTYwMTMzWhcNMjYxMjAzMTYw
MTMzWjAUMRIwEAYDVQQDDAlzaGExLnRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMB
BwNCAASgr39sYOWm9tFx2sdDSv8sDea/TWaJ2F1dzPCmiX6e9nYSRc2oPk6GOrht
ox1OScZ6JyREIWq/zO5+FPztfhqUo1MwUTAdBgNVHQ4EFgQUCO+rh2LUp7vsfbAJ
oIlN+yIv7mgwHwYDVR0jBBgwFoAUCO+rh2LUp7vsfbAJoIlN+yIv7mgwDwYDVR0T
AQH/BAUwAwEB/zAJBgcqhkjOPQQBA0gAMEUCIQDhrgry07/grmF2ZFXmXNAb+918
LK1ndj1H/l/fsOAp7QIgNd7QM24SnwyVi2QhIvdfn4L97HiKu6UB2ThgKxVjwJc=
-----END CERTIFICATE-----
"""


def mechanism(plus: bool = False, bindings: dict[str, bytes] | None = None) -> ScramSha256Mechanism:
    return ScramSha256Mechanism(
        plus=plus, channel_bindings=bindings or {}, server_nonce=RFC7677_SERVER_NONCE
    )


def client_final(
    server_first: bytes,
    password: str,
    gs2_header: bytes,
    *,
    cb_data: bytes = b"",
    bare: str = "",
    extension: str = "",
) -> bytes:
    """A client-final computed here from RFC 5802 §3, for the non-RFC-vector cases."""
    fields = dict(part.split("=", 1) for part in server_first.decode().split(","))
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c={base64.b64encode(gs2_header + cb_data).decode()},r={fields['r']}"
    if extension:
        without_proof += "," + extension
    auth = f"{bare},{server_first.decode()},{without_proof}".encode()
    signature = hmac.new(stored_key, auth, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


def run(
    exchange: ScramSha256Mechanism,
    first: bytes,
    *,
    password: str = "pencil",
    secrets: ScramSecrets = PENCIL,
    genuine: bool = True,
    cb_data: bytes = b"",
) -> SaslStep:
    """client-first, the secrets, client-final: the last step."""
    step = exchange.start(first)
    if not isinstance(step, SaslNeedSecrets):
        return step
    challenge = exchange.supply(ScramAccount(secrets, genuine=genuine))
    assert isinstance(challenge, SaslChallenge)
    bare = first.partition(b",")[2].partition(b",")[2]
    gs2 = first[: len(first) - len(bare)]
    final = client_final(challenge.data, password, gs2, cb_data=cb_data, bare=bare.decode())
    return exchange.step(final)


# ------------------------------------------------------------------ RFC 7677 §3


def test_rfc7677_example_exchange_byte_for_byte() -> None:
    exchange = mechanism()
    assert exchange.start(None) == SaslChallenge(b"")  # no SASL-IR: ask for client-first
    assert exchange.step(RFC7677_CLIENT_FIRST) == SaslNeedSecrets("user")
    assert exchange.supply(ScramAccount(PENCIL, genuine=True)) == SaslChallenge(
        RFC7677_SERVER_FIRST
    )
    assert exchange.step(RFC7677_CLIENT_FINAL) == SaslAuthenticated("user", RFC7677_SERVER_FINAL)
    # The exchange is over: anything more fails.
    assert isinstance(exchange.step(b"again"), SaslFailure)


def test_rfc7677_example_with_wrong_secrets_or_decoys_is_invalid_proof() -> None:
    for secrets, genuine in ((derive_secrets("pen", 4096, RFC7677_SALT), True), (PENCIL, False)):
        exchange = mechanism()
        exchange.start(RFC7677_CLIENT_FIRST)
        exchange.supply(ScramAccount(secrets, genuine=genuine))
        step = exchange.step(RFC7677_CLIENT_FINAL)
        assert isinstance(step, SaslFailure) and step.server_error == "invalid-proof"


# ------------------------------------------------------------------ client-first


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"", "invalid-encoding"),
        (b"n", "invalid-encoding"),
        (b"n,,", "invalid-encoding"),
        (b"x,,n=user,r=abc", "invalid-encoding"),
        (b"p=,,n=user,r=abc", "invalid-encoding"),
        (b"p=bad name,,n=user,r=abc", "invalid-encoding"),
        (b"n,b=user,n=user,r=abc", "invalid-encoding"),
        (b"n,a=,n=user,r=abc", "invalid-encoding"),
        (b"n,,m=foo,n=user,r=abc", "extensions-not-supported"),
        (b"n,,n=user", "invalid-encoding"),
        (b"n,,r=abc,n=user", "invalid-encoding"),
        (b"n,,n=,r=abc", "invalid-username-encoding"),
        (b"n,,n=us=2Xer,r=abc", "invalid-username-encoding"),
        (b"n,,n=user=,r=abc", "invalid-username-encoding"),
        (b"n,,n=user,r=", "invalid-encoding"),
        (b"n,,n=user,r=a b", "invalid-encoding"),
        (b"n,,n=\xff,r=abc", "invalid-encoding"),
        (b"n,a=admin,n=user,r=abc", "other-error"),  # no proxy authorization
    ],
)
def test_bad_client_first(message: bytes, error: str) -> None:
    step = mechanism().start(message)
    assert isinstance(step, SaslFailure), step
    assert step.server_error == error


def test_saslname_escapes_and_authzid_equal_to_user() -> None:
    assert decode_saslname("a=2Cb=3Dc") == "a,b=c"
    assert encode_saslname("a,b=c=2C") == "a=2Cb=3Dc=3D2C"
    assert decode_saslname(encode_saslname("x=,y,=")) == "x=,y,="
    with pytest.raises(ScramError):
        decode_saslname("a=2")
    step = mechanism().start(b"n,a=User,n=user,r=abc,x=ignored-extension")
    assert step == SaslNeedSecrets("user")
    step = mechanism().start(b"n,,n=a=2Cb,r=abc")
    assert step == SaslNeedSecrets("a,b")


def test_extensions_in_client_final_are_ignored() -> None:
    exchange = mechanism()
    exchange.start(RFC7677_CLIENT_FIRST)
    challenge = exchange.supply(ScramAccount(PENCIL, genuine=True))
    assert isinstance(challenge, SaslChallenge)
    # The extension is part of the AuthMessage, so the proof covers it.
    bare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
    final = client_final(challenge.data, "pencil", b"n,,", bare=bare, extension="x=future")
    assert b",x=future,p=" in final
    assert isinstance(exchange.step(final), SaslAuthenticated)


# ------------------------------------------------------------------ client-final


@pytest.mark.parametrize(
    ("final", "error"),
    [
        (b"r=x,p=y", "invalid-encoding"),
        (b"c=biws,p=dGVzdA==", "invalid-encoding"),
        (b"c=biws,r=x", "invalid-encoding"),
        (b"c=!!!,r=x,p=dGVzdA==", "invalid-encoding"),
        (
            b"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dGVzdA==",
            "channel-bindings-dont-match",
        ),
        (b"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dGVzdA==", "other-error"),  # nonce not echoed
        (
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dGVzdA==",
            "invalid-proof",
        ),
        (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=***", "invalid-encoding"),
    ],
)
def test_bad_client_final(final: bytes, error: str) -> None:
    exchange = mechanism()
    exchange.start(RFC7677_CLIENT_FIRST)
    exchange.supply(ScramAccount(PENCIL, genuine=True))
    step = exchange.step(final)
    assert isinstance(step, SaslFailure) and step.server_error == error


def test_out_of_order_calls_fail_cleanly() -> None:
    exchange = mechanism()
    assert isinstance(exchange.supply(ScramAccount(PENCIL, genuine=True)), SaslFailure)
    exchange = mechanism()
    exchange.start(RFC7677_CLIENT_FIRST)
    assert isinstance(exchange.step(RFC7677_CLIENT_FINAL), SaslFailure)  # secrets not given


# ------------------------------------------------------------------ channel binding (RFC 5802 §6)

BINDING = {"tls-server-end-point": b"\x01" * 32}


def test_plus_binds_to_the_offered_type() -> None:
    first = b"p=tls-server-end-point,,n=user,r=abc"
    step = run(mechanism(True, BINDING), first, cb_data=BINDING["tls-server-end-point"])
    assert isinstance(step, SaslAuthenticated)
    step = run(mechanism(True, BINDING), first, cb_data=b"\x02" * 32)
    assert isinstance(step, SaslFailure)
    assert step.server_error == "channel-bindings-dont-match"


@pytest.mark.parametrize(
    ("plus", "bindings", "first", "error"),
    [
        (True, BINDING, b"p=tls-exporter,,n=user,r=abc", "unsupported-channel-binding-type"),
        (True, BINDING, b"n,,n=user,r=abc", "other-error"),
        (True, BINDING, b"y,,n=user,r=abc", "other-error"),
        (False, BINDING, b"p=tls-server-end-point,,n=user,r=abc", "other-error"),
        (False, BINDING, b"y,,n=user,r=abc", "server-does-support-channel-binding"),
    ],
)
def test_binding_flag_policy(
    plus: bool, bindings: dict[str, bytes], first: bytes, error: str
) -> None:
    step = mechanism(plus, bindings).start(first)
    assert isinstance(step, SaslFailure) and step.server_error == error


def test_y_without_anything_to_bind_is_accepted() -> None:
    step = run(mechanism(False, {}), b"y,,n=user,r=abc")
    assert isinstance(step, SaslAuthenticated)


def test_plus_needs_bindings_to_start() -> None:
    assert start_mechanism("SCRAM-SHA-256-PLUS", channel_bindings={}) is None
    started = start_mechanism("scram-sha-256-plus", channel_bindings=BINDING)
    assert started is not None and started.name == "SCRAM-SHA-256-PLUS"


# ------------------------------------------------------------------ secrets and SASLprep


def test_secrets_round_trip_in_rfc5803_form_and_hide_keys() -> None:
    text = PENCIL.encode()
    assert text.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    assert ScramSecrets.parse(text) == PENCIL
    assert base64.b64encode(PENCIL.stored_key).decode() not in repr(PENCIL)
    assert base64.b64encode(PENCIL.server_key).decode() not in repr(PENCIL)
    for bad in (
        None,
        "",
        "x",
        "SCRAM-SHA-1$4096:c2FsdA==$a:b",
        text.replace("4096", "-1"),
        text + "$",
        text.replace("$4096:", "$4096:!"),
    ):
        assert ScramSecrets.parse(bad) is None, bad


def test_iterations_have_the_rfc7677_floor() -> None:
    assert derive_secrets("pw", 1).iterations == MIN_ITERATIONS == 4096
    assert derive_secrets("pw", Limits().scram_iterations).iterations == 10000
    assert derive_secrets("pw", 4096).salt != derive_secrets("pw", 4096).salt  # fresh salts


@pytest.mark.parametrize(
    ("given", "prepared"),
    [  # RFC 4013 §3's examples
        ("I\u00adX", "IX"),
        ("user", "user"),
        ("USER", "USER"),
        ("\u00aa", "a"),
        ("\u2168", "IX"),
        ("a\u00a0b", "a b"),  # non-ASCII space becomes SPACE
    ],
)
def test_saslprep_rfc4013_examples(given: str, prepared: str) -> None:
    assert saslprep(given) == prepared


@pytest.mark.parametrize("given", ["\u0007", "\u0627\u0031", "a\ue000", "\U000e0001"])
def test_saslprep_prohibits(given: str) -> None:
    with pytest.raises(SaslprepError):
        saslprep(given)


def test_password_normalisation_and_fallback() -> None:
    # "I\u00adX" and "IX" are the same SCRAM password (SASLprep), with the same secrets.
    assert derive_secrets("I\u00adX", 4096, b"s" * 16) == derive_secrets("IX", 4096, b"s" * 16)
    assert normalize_password("\u2168") == b"IX"
    # Unassigned in Unicode 3.2 (an emoji): prohibited as a stored string, used as it is.
    assert normalize_password("pw\U0001f600") == "pw\U0001f600".encode()


def test_decoys_are_stable_per_name_and_key() -> None:
    first = decoy_secrets(b"k" * 32, "nobody@example.test", 10000)
    assert first == decoy_secrets(b"k" * 32, "nobody@example.test", 10000)
    assert first.salt != decoy_secrets(b"k" * 32, "other@example.test", 10000).salt
    assert first.salt != decoy_secrets(b"j" * 32, "nobody@example.test", 10000).salt
    assert len(first.salt) == 16 and first.iterations == 10000


# ------------------------------------------------------------------ the Authenticator's side


def test_authenticator_hands_out_real_secrets_or_stable_decoys(tmp_path: Path) -> None:
    async def scenario() -> None:
        backend = await SqliteBackend.open(tmp_path / "mail.db")
        try:
            real = derive_secrets("pencil", 4096)
            await backend.add_account("user@example.test", "hash", scram_sha256=real.encode())
            await backend.add_account("old@example.test", "hash")  # made before SCRAM
            auth = Authenticator(backend, Limits(auth_failure_delay=0.0))
            assert await auth.scram_secrets(" USER@example.test") == ScramAccount(real, True)
            decoy = await auth.scram_secrets("nobody@example.test")
            assert not decoy.genuine and decoy == await auth.scram_secrets("nobody@example.test")
            old = await auth.scram_secrets("old@example.test")
            assert not old.genuine and old.secrets.iterations == 10000
            # A restarted server (a new Authenticator) shows unknown users the same salt.
            again = Authenticator(backend, Limits())
            assert (await again.scram_secrets("nobody@example.test")) == decoy
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_scram_is_offered_once_every_account_has_secrets(tmp_path: Path) -> None:
    async def scenario() -> None:
        backend = await SqliteBackend.open(tmp_path / "mail.db")
        try:
            await backend.add_account("old@example.test", hash_password("pw"))
            auth = Authenticator(backend, Limits(auth_failure_delay=0.0))
            assert auth.scram_offered is False  # not counted yet: not offered
            assert await auth.refresh_scram_offer() is False
            # The password login stores the secrets, and the offer follows at once.
            assert await auth.verify("old@example.test", "pw", "::1") == "old@example.test"
            assert auth.scram_offered is True
            secrets = ScramSecrets.parse(await backend.scram_sha256("old@example.test"))
            assert secrets is not None and secrets.iterations == 10000
            assert (await auth.scram_secrets("old@example.test")).genuine
        finally:
            await backend.close()

    asyncio.run(scenario())


def test_scram_success_clears_and_failures_count(tmp_path: Path) -> None:
    async def scenario() -> None:
        backend = await SqliteBackend.open(tmp_path / "mail.db")
        try:
            auth = Authenticator(backend, Limits(auth_failure_delay=0.0))
            await auth.reject("192.0.2.1", "user@example.test")
            await auth.reject("192.0.2.1")
            assert auth.failure_count("192.0.2.1") == 2
            assert auth.scram_succeeded("User@Example.test", "192.0.2.1") == "user@example.test"
            assert auth.failure_count("192.0.2.1") == 0
        finally:
            await backend.close()

    asyncio.run(scenario())


# ------------------------------------------------------------------ tls-server-end-point


def _certificate(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, digest: object) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    certificate = builder.sign(key, digest)  # type: ignore[arg-type]
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_server_end_point_hash_per_rfc5929() -> None:
    cert_pem, _ = make_self_signed_pem()  # ECDSA with SHA-256
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    assert server_end_point_hash(cert_pem) == hashlib.sha256(der).digest()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sha384 = _certificate(rsa_key, hashes.SHA384())
    der = x509.load_pem_x509_certificate(sha384).public_bytes(serialization.Encoding.DER)
    assert server_end_point_hash(sha384) == hashlib.sha384(der).digest()
    # MD5 and SHA-1 signatures are bound with SHA-256 instead (cryptography no longer signs
    # with SHA-1, so this one was made once with `openssl req -x509 -sha1`).
    sha1 = SHA1_SIGNED_PEM
    assert isinstance(x509.load_pem_x509_certificate(sha1).signature_hash_algorithm, hashes.SHA1)
    der1 = x509.load_pem_x509_certificate(sha1).public_bytes(serialization.Encoding.DER)
    assert server_end_point_hash(sha1) == hashlib.sha256(der1).digest()
    # A chain file: the first certificate is ours.
    assert server_end_point_hash(sha384 + cert_pem) == hashlib.sha384(der).digest()
    # Ed25519 signs with no separate hash: RFC 5929 §4.1 leaves the binding undefined.
    assert server_end_point_hash(_certificate(ed25519.Ed25519PrivateKey.generate(), None)) is None
    assert server_end_point_hash(b"not a certificate") is None


# ------------------------------------------------------------------ every password set stores them


def _stored(data_dir: Path, address: str) -> ScramSecrets | None:
    async def read() -> str | None:
        backend = await SqliteBackend.open(data_dir / "mail.db")
        try:
            return await backend.scram_sha256(address)
        finally:
            await backend.close()

    return ScramSecrets.parse(asyncio.run(read()))


def _matches(secrets: ScramSecrets | None, password: str) -> bool:
    return secrets is not None and secrets == derive_secrets(
        password, secrets.iterations, secrets.salt
    )


def test_cli_user_add_passwd_and_demo_store_secrets_not_passwords(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config_file = tmp_path / "tidings.toml"
    config_file.write_text("[limits]\nscram_iterations = 5000\n")
    common = ("--data", str(data_dir), "--config", str(config_file))
    added = run_cli(
        data_dir, "user", "add", "a@example.test", "--password-stdin", *common, stdin="first\n"
    )
    assert added.returncode == 0, added.stderr
    first = _stored(data_dir, "a@example.test")
    assert _matches(first, "first") and first is not None and first.iterations == 5000
    changed = run_cli(
        data_dir, "user", "passwd", "a@example.test", "--password-stdin", *common, stdin="second\n"
    )
    assert changed.returncode == 0, changed.stderr
    second = _stored(data_dir, "a@example.test")
    assert _matches(second, "second") and not _matches(second, "first")
    assert b"second" not in (data_dir / "mail.db").read_bytes()
    password = asyncio.run(ensure_demo_account(Config(data_dir=data_dir)))
    assert _matches(_stored(data_dir, DEMO_ADDRESS), password)


# ------------------------------------------------------------------ any input


_MESSAGE_PARTS = st.sampled_from(
    [b"n", b"y", b"p=tls-unique", b",", b"=", b"a=", b"n=", b"r=", b"c=", b"p=", b"m=", b"biws"]
)
_MESSAGES = st.one_of(st.binary(max_size=80), st.lists(_MESSAGE_PARTS, max_size=12).map(b"".join))


@settings(max_examples=300, deadline=None)
@given(first=_MESSAGES, final=_MESSAGES, plus=st.booleans())
def test_any_input_gives_a_step_never_an_exception(first: bytes, final: bytes, plus: bool) -> None:
    """Hypothesis: whatever the client sends, each call answers with a step (STYLE.md 3)."""
    exchange = mechanism(plus, BINDING)
    step = exchange.start(first)
    assert isinstance(step, SaslNeedSecrets | SaslFailure)
    if isinstance(step, SaslNeedSecrets):
        assert isinstance(exchange.supply(ScramAccount(PENCIL, genuine=True)), SaslChallenge)
    after = exchange.step(final)
    assert isinstance(after, SaslFailure)  # a random final never proves the password
    assert after.server_error


@given(name=st.text(max_size=30))
def test_saslname_round_trip(name: str) -> None:
    encoded = encode_saslname(name)
    assert "," not in encoded
    assert decode_saslname(encoded) == name
