"""LMTP replies compared with Dovecot 2.3's for the same scripted sessions.

Each script is sent to both servers over raw sockets, write by write, and every reply is
compared by its reply code and enhanced status code (RFC 5321 §4.2, RFC 3463), never by its
text, except where the text has a structure clients and logs rely on (the delivery id of
`250 2.0.0 <rcpt> <id> Saved`). The messages delivered by both are read back over IMAP and
compared byte for byte after the trace fields each server prepends.

Where Tidings answers differently on purpose, a `test_deviation_*` test pins down both
answers; each has an entry (L1, L2, ...) in DEVIATIONS.md's LMTP section.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import TidingsServer, make_server
from tests.lmtp.lmtp_support import RawLmtp, fetch_all, write_config
from tests.support.dovecot import DovecotServer, skip_requested, start_dovecot

pytestmark = pytest.mark.dovecot

ALICE = "alice@example.test"
BOB = "bob@example.test"
PASSWORD = "correct horse battery staple"
SENDER = "sender@remote.example"
# Dovecot's LMTP allows 10 bad commands (its smtp-server's max_bad_commands); Tidings is
# configured the same here so that the 421 comes at the same command.
DOVECOT_BAD_COMMAND_BUDGET = 10
# "<rcpt> <22 base64 chars>[:T<n>][:R<n>] Saved"
_SAVED = re.compile(r"<(?P<rcpt>[^>]*)> [A-Za-z0-9+/]{22}(?P<suffix>(:T[0-9]+)?(:R[0-9]+)?) Saved")
_EOF = -1  # read replies until the server closes


@dataclass(frozen=True)
class Step:
    """One write and how many replies it brings (`_EOF`: all of them, up to the close)."""

    wire: bytes
    replies: int = 1


def _lines(*lines: str | bytes) -> list[Step]:
    return [Step((ln.encode() if isinstance(ln, str) else ln) + b"\r\n") for ln in lines]


@dataclass(frozen=True)
class Outcome:
    """What one server answered to a script: per step, each reply as "code enhanced", and
    the suffix of each delivery id (":R2", ...)."""

    statuses: tuple[tuple[str, ...], ...]
    delivery_suffixes: tuple[str, ...]
    closed: bool


def run_script(port: int, steps: list[Step]) -> Outcome:
    statuses: list[tuple[str, ...]] = []
    suffixes: list[str] = []
    closed = False
    with RawLmtp(port) as client:
        for step in steps:
            client.send(step.wire)
            got: list[str] = []
            count = step.replies
            while count == _EOF or len(got) < count:
                try:
                    answer = client.read_reply()
                except ConnectionError:
                    closed = True
                    break
                got.append(answer.status)
                saved = _SAVED.fullmatch(answer.text)
                if answer.status == "250 2.0.0" and saved:
                    suffixes.append(saved["suffix"])
            statuses.append(tuple(got))
            if closed:
                break
        # A server that is not closing is given a moment only: most scripts end open.
        closed = closed or client.at_eof(wait=0.3)
    return Outcome(tuple(statuses), tuple(suffixes), closed)


@pytest.fixture(scope="module")
def tidings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    directory = tmp_path_factory.mktemp("lmtp-vs-dovecot")
    server = make_server(directory / "data")
    config = write_config(directory, limits={"max_bad_commands": DOVECOT_BAD_COMMAND_BUDGET})
    server.start("--config", str(config))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    """A private Dovecot whose LMTP can deliver. Its lmtp processes run as the mail user
    without the chroot the imap processes get, so every parent of its mail directory must
    be traversable: pytest's temp dirs (mode 0700) are not, hence a directory of our own
    in /tmp (this fixture shadows the shared one of tests/differential/conftest.py)."""
    if skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1: differential tests against Dovecot skipped")
    base = Path(tempfile.mkdtemp(prefix="tidings-lmtp-dovecot-"))
    base.chmod(0o755)
    server = start_dovecot(base / "dovecot")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def compare(tidings: TidingsServer, dovecot: DovecotServer, steps: list[Step]) -> Outcome:
    ours = run_script(tidings.lmtp_port, steps)
    theirs = run_script(dovecot.lmtp_port, steps)
    for index, (mine, reference) in enumerate(zip(ours.statuses, theirs.statuses, strict=False)):
        assert mine == reference, f"step {index} {steps[index].wire[:60]!r}"
    assert ours == theirs
    return ours


# --------------------------------------------------------------------------- scripts
SCRIPTS: dict[str, list[Step]] = {
    "multi_recipient": [
        *_lines(
            "LHLO differential.example",
            f"MAIL FROM:<{SENDER}>",
            f"RCPT TO:<{ALICE}>",
            "RCPT TO:<nobody@example.test>",
            f"RCPT TO:<{BOB}>",
            "RCPT TO:<alice+tag@EXAMPLE.test>",
            "RCPT TO:<@route.example:bob@EXAMPLE.test>",  # bob again: one delivery
            'RCPT TO:<"alice"@example.test>',  # alice again
            "RCPT TO:<ALICE@example.test>",  # not the same local part: delivered
            "DATA",
        ),
        Step(b"Subject: multi\r\n\r\nHello.\r\n.\r\n", 6),
        Step(b"QUIT\r\n", _EOF),
    ],
    "transactions_and_ids": [
        *_lines("LHLO differential.example", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>"),
        Step(b"DATA\r\n"),
        Step(b"Subject: one\r\n\r\n.\r\n"),
        *_lines("MAIL FROM:<>", "RCPT TO:<nobody@example.test>", f"RCPT TO:<{BOB}>", "DATA"),
        Step(b"Subject: two\r\n\r\n.\r\n"),
        *_lines("QUIT"),
    ],
    "sequence_errors": _lines(
        f"RCPT TO:<{ALICE}>",
        "DATA",
        f"MAIL FROM:<{SENDER}>",  # accepted before LHLO, by both
        "DATA",
        f"MAIL FROM:<{SENDER}>",
        "RCPT TO:<nobody@example.test>",
        "DATA",
        "RSET",
        "DATA",
        f"MAIL FROM:<{SENDER}>",
        f"RCPT TO:<{ALICE}>",
        "LHLO again.example",
        f"RCPT TO:<{ALICE}>",
        "RSET",
        "QUIT",
    ),
    # Ten errors at most per script: the eleventh would end the session (the budget).
    "syntax_errors_commands": _lines(
        "LHLO differential.example",
        "HELO differential.example",
        "EHLO differential.example",
        "FOO bar",
        "",
        ".",
        "FOO1",
        "NOOP:",
        b"NOOP\x00",
        " NOOP",
        "NOOP  ",
        "NOOP ignored",
        "RSET ",
        "RSET now",
        "QUIT",
    ),
    "syntax_errors_paths": _lines(
        "LHLO differential.example",
        "MAIL FROM:sender@remote.example",
        "MAIL FROM: <sender@remote.example>",
        "MAIL FROM:<a b@remote.example>",
        "MAIL FROM:<sender@remote.example",
        "MAIL FROM:<a@b> FOO=bar",
        "MAIL FROM:<a@b> BODY=BINARYMIME",
        "MAIL FROM:<a@b> BODY=7BIT",
        "RCPT TO:<>",
        "RCPT TO:alice@example.test",
        f"RCPT TO:<{ALICE}> NOTIFY=NEVER",
        f"RCPT TO:<{ALICE}> ORCPT=rfc822;{ALICE}",
        'RCPT TO:<"alice"@example.test>',
        "RCPT TO:<a..b@example.test>",
        "QUIT",
    ),
    "syntax_errors_others": _lines(
        "LHLO differential.example",
        "DATA now",
        "VRFY",
        'VRFY "alice@example.test"',
        "VRFY alice",
        "QUIT now",
        "RSET",
        "QUIT",
    ),
    "bdat": [
        *_lines("LHLO differential.example", f"MAIL FROM:<{SENDER}>"),
        Step(b"BDAT 3\r\nabc"),  # no recipient yet: refused, and the transfer has failed
        Step(b"DATA\r\n"),
        *_lines(f"RCPT TO:<{BOB}>"),
        Step(b"BDAT 3\r\nabc"),
        Step(b"RSET\r\n"),
        *_lines(f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{BOB}>"),
        Step(b"BDAT 9\r\nSubject: "),
        Step(b"DATA\r\n"),  # RFC 3030 §2: 503, and the transfer goes on
        *_lines(f"RCPT TO:<{ALICE}>"),  # between chunks: accepted by both
        Step(b"NOOP\r\n"),
        Step(b"BDAT 8 LAST\r\nbdat\r\n\r\n", 2),
        Step(b"BDAT 1 LAST\r\nx"),  # after LAST: no transaction
        Step(b"BDAT 1\r\nx"),  # and now the failed state
        Step(b"RSET\r\n"),
        Step(b"BDAT x\r\n"),
        Step(b"BDAT 3 FOO\r\nabc"),  # the chunk is skipped all the same
        *_lines("RSET", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>"),
        Step(b"BDAT 0 LAST\r\n"),
        *_lines("QUIT"),
    ],
    "bad_command_budget": [
        *_lines("LHLO differential.example", f"MAIL FROM:<{SENDER}>"),
        # Unknown users are not bad commands: no 421 for them.
        *_lines(*["RCPT TO:<nobody@example.test>"] * 12),
        # Nine errors in a row (a broken MAIL inside a transaction is out of sequence first;
        # a too-long line counts too), then a good reply starts the count again...
        *_lines("BOGUS", "MAIL FROM:broken", "RCPT TO:broken", "FOO1", "DATA now"),
        Step(b"NOOP " + b"x" * 5000 + b"\r\n"),
        *_lines("BOGUS", "BOGUS", "BOGUS", "RCPT TO:<nobody@example.test>"),
        # ...so ten more errors are answered, and the eleventh gets 421 and the end.
        *_lines(*["BOGUS"] * DOVECOT_BAD_COMMAND_BUDGET),
        Step(b"BOGUS\r\n", _EOF),
    ],
    "pipelined": [
        Step(
            b"LHLO pipe.example\r\nMAIL FROM:<" + SENDER.encode() + b">\r\n"
            b"RCPT TO:<" + ALICE.encode() + b">\r\nRCPT TO:<x@example.test>\r\n"
            b"RCPT TO:<" + BOB.encode() + b">\r\nDATA\r\n",
            6,
        ),
        Step(b"Subject: pipelined\r\n\r\n.\r\nNOOP\r\nMAIL FROM:<>\r\nRSET\r\nQUIT\r\n", _EOF),
    ],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_same_replies_as_dovecot(name: str, tidings: TidingsServer, dovecot: DovecotServer) -> None:
    outcome = compare(tidings, dovecot, SCRIPTS[name])
    assert outcome.statuses, name


def test_delivery_ids_have_dovecots_shape(tidings: TidingsServer, dovecot: DovecotServer) -> None:
    """`:R<n>` counts every RCPT that was looked up, `:T<n>` the transactions."""
    outcome = compare(tidings, dovecot, SCRIPTS["multi_recipient"])
    # A repeated recipient's reply is a copy of the first one's (Dovecot delivers once).
    assert outcome.delivery_suffixes == ("", ":R3", ":R4", ":R3", "", ":R7")
    outcome = compare(tidings, dovecot, SCRIPTS["transactions_and_ids"])
    assert outcome.delivery_suffixes == ("", ":T2:R2")


# --------------------------------------------------------------------------- stored bytes
_TRACE_FIELD = re.compile(rb"(Return-Path|Delivered-To|Received):[^\r\n]*\r\n([ \t][^\r\n]*\r\n)*")


def _without_trace(message: bytes) -> bytes:
    position = 0
    while match := _TRACE_FIELD.match(message, position):
        position = match.end()
    return message[position:]


def _stored(port: int, subject: str) -> bytes:
    found = [m for m in fetch_all(port, ALICE, PASSWORD) if subject.encode() in m]
    assert len(found) == 1, subject
    return found[0]


def test_stored_message_matches_dovecots(tidings: TidingsServer, dovecot: DovecotServer) -> None:
    """The same tricky data through DATA and through BDAT: after the trace fields, both
    servers store the same bytes."""
    subject = f"stored-{uuid.uuid4().hex[:10]}"
    body = (
        b"..leading dot\r\n...\r\n.\t\r\n8-bit: \xc3\xa9\xff\r\nlong " + b"y" * 3000 + b"\r\n"
        b"cr alone\rhere\r\n\r\n\r\n"
    )
    message = b"Subject: " + subject.encode() + b"\r\n\r\n" + body
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    upper = message.replace(subject.encode(), subject.upper().encode())
    steps = [
        *_lines(
            "LHLO differential.example",
            f"MAIL FROM:<{SENDER}> BODY=8BITMIME",
            f"RCPT TO:<{ALICE}>",
            "DATA",
        ),
        Step(stuffed + b".\r\n"),
        *_lines(f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>"),
        Step(b"BDAT %d LAST\r\n%s" % (len(message), upper)),
        *_lines("QUIT"),
    ]
    compare(tidings, dovecot, steps)
    for variant in (subject, subject.upper()):
        ours = _stored(tidings.imap_port, variant)
        theirs = _stored(dovecot.imap_port, variant)
        assert _without_trace(ours) == _without_trace(theirs)
        assert _without_trace(ours) == message.replace(subject.encode(), variant.encode())


# --------------------------------------------------------------------------- deviations
def _both(
    tidings: TidingsServer, dovecot: DovecotServer, steps: list[Step]
) -> tuple[Outcome, Outcome]:
    return run_script(tidings.lmtp_port, steps), run_script(dovecot.lmtp_port, steps)


def _lhlo_lines(port: int) -> tuple[str, ...]:
    with RawLmtp(port) as client:
        return client.command("LHLO differential.example").lines[1:]


def test_deviation_l1_extensions(tidings: TidingsServer, dovecot: DovecotServer) -> None:
    ours, theirs = set(_lhlo_lines(tidings.lmtp_port)), set(_lhlo_lines(dovecot.lmtp_port))
    assert ours - theirs == {"SIZE 52428800", "SMTPUTF8"}
    assert theirs - ours == {"STARTTLS"}


def test_deviation_l2_size_and_smtputf8_parameters(
    tidings: TidingsServer, dovecot: DovecotServer
) -> None:
    steps = _lines(
        "LHLO d.example",
        "MAIL FROM:<a@b> SIZE=1000 SMTPUTF8",
        "RSET",
        "MAIL FROM:<a@b> SIZE=99999999999",
    )
    ours, theirs = _both(tidings, dovecot, steps)
    assert ours.statuses[1:] == (("250 2.1.0",), ("250 2.0.0",), ("552 5.3.4",))
    assert theirs.statuses[1:] == (("555 5.5.4",), ("250 2.0.0",), ("555 5.5.4",))


def test_deviation_l3_vrfy_with_an_address(tidings: TidingsServer, dovecot: DovecotServer) -> None:
    ours, theirs = _both(tidings, dovecot, _lines(f"VRFY {ALICE}"))
    assert (ours.statuses, theirs.statuses) == ((("252 2.3.3",),), (("501 5.5.4",),))


def test_deviation_l4_recipient_without_domain(
    tidings: TidingsServer, dovecot: DovecotServer
) -> None:
    steps = _lines(f"MAIL FROM:<{SENDER}>", "RCPT TO:<alice>")
    ours, theirs = _both(tidings, dovecot, steps)
    assert (ours.statuses[1], theirs.statuses[1]) == (("501 5.1.3",), ("550 5.1.1",))


def test_deviation_l5_bare_lf_does_not_end_the_data(
    tidings: TidingsServer, dovecot: DovecotServer
) -> None:
    steps = [
        *_lines(f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{BOB}>", "DATA"),
        Step(b"Subject: smuggle\n.\n", 0),
        Step(b"tail\r\n.\r\n"),
    ]
    ours, theirs = _both(tidings, dovecot, steps)
    # Dovecot took "\n.\n" as the end and "tail" as a command; Tidings read on to CRLF.CRLF.
    assert ours.statuses[3:] == ((), ("250 2.0.0",))
    assert theirs.statuses[3:] == ((), ("250 2.0.0",))  # the delivery of the cut message
    ours_after = run_script(tidings.lmtp_port, [*steps, Step(b"NOOP\r\n")])
    theirs_after = run_script(dovecot.lmtp_port, [*steps, Step(b"NOOP\r\n")])
    assert ours_after.statuses[-1] == ("250 2.0.0",)
    assert theirs_after.statuses[-1] == ("500 5.5.1",)  # the reply to "tail", out of step


def test_deviation_l6_data_after_rcpt_between_chunks(
    tidings: TidingsServer, dovecot: DovecotServer
) -> None:
    start = [
        *_lines(f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{BOB}>"),
        Step(b"BDAT 3\r\nabc"),
        *_lines(f"RCPT TO:<{ALICE}>"),
    ]
    ours = run_script(tidings.lmtp_port, [*start, Step(b"DATA\r\n"), Step(b"QUIT\r\n")])
    theirs = run_script(dovecot.lmtp_port, [*start, Step(b"DATA\r\n", _EOF)])
    assert ours.statuses[len(start) :] == (("503 5.5.0",), ("221 2.0.0",))
    # Dovecot's lmtp process panics (smtp-server-command.c: "assertion failed:
    # (idx < cmd->replies_expected)") and the connection drops without a reply.
    assert theirs.statuses[len(start)] == () and theirs.closed


def test_deviation_l7_lhlo_without_a_domain(tidings: TidingsServer, dovecot: DovecotServer) -> None:
    ours, theirs = _both(tidings, dovecot, _lines("LHLO"))
    assert (ours.statuses, theirs.statuses) == ((("501 5.5.4",),), (("501",),))


def test_deviation_l8_noop_argument_is_ignored(
    tidings: TidingsServer, dovecot: DovecotServer
) -> None:
    ours, theirs = _both(tidings, dovecot, _lines("NOOP ÿ", 'NOOP "quoted text"'))
    assert ours.statuses == (("250 2.0.0",), ("250 2.0.0",))
    assert theirs.statuses[0] == ("501 5.5.4",)
