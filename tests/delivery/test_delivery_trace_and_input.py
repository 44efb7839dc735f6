"""Trace fields (Return-Path, Delivered-To), piped input, and the sysexits mapping."""

from __future__ import annotations

import pytest

from tidings.core.errors import MailError, MailErrorKind
from tidings.delivery.exit_status import (
    EX_NOPERM,
    EX_NOUSER,
    EX_TEMPFAIL,
    EX_USAGE,
    OVERQUOTA_TEXT,
    TOOBIG_TEXT,
    exit_status,
)
from tidings.delivery.piped import message_from_pipe
from tidings.delivery.trace import MAX_TRACE_FIELDS_OCTETS, trace_fields


def test_trace_fields_are_dovecots_bytes() -> None:
    assert trace_fields("Sender@Remote.Example", "alice+tag@example.test") == (
        b"Return-Path: <Sender@Remote.Example>\r\nDelivered-To: alice+tag@example.test\r\n"
    )


@pytest.mark.parametrize("sender", ["", "<>"])
def test_the_null_sender_is_angle_brackets(sender: str) -> None:
    assert trace_fields(sender, "a@x").startswith(b"Return-Path: <>\r\n")


def test_a_bracketed_sender_is_not_bracketed_twice() -> None:
    assert trace_fields("<s@x>", "a@x").startswith(b"Return-Path: <s@x>\r\n")


def test_non_ascii_addresses_are_utf8() -> None:
    assert (
        trace_fields("jörg@x", "ü@y") == "Return-Path: <jörg@x>\r\nDelivered-To: ü@y\r\n".encode()
    )


@pytest.mark.parametrize(("sender", "address"), [("s@x\r\nBcc: e@x", "a@x"), ("s@x", "a@x\n")])
def test_control_characters_cannot_inject_header_fields(sender: str, address: str) -> None:
    with pytest.raises(MailError) as caught:
        trace_fields(sender, address)
    assert caught.value.kind is MailErrorKind.PARSE


def test_bare_lf_becomes_crlf_and_crlf_stays() -> None:
    assert message_from_pipe(b"A: 1\nB: 2\r\n\nbody\n") == b"A: 1\r\nB: 2\r\n\r\nbody\r\n"


def test_a_leading_mbox_from_line_is_dropped() -> None:
    piped = b"From sender@x.test  Mon Jan  1 00:00:00 2024\nFrom: a@b\n\nbody\n"
    assert message_from_pipe(piped) == b"From: a@b\r\n\r\nbody\r\n"
    assert message_from_pipe(b"From: a@b\n\nFrom me\n") == b"From: a@b\r\n\r\nFrom me\r\n"
    assert message_from_pipe(b"From nobody") == b""


@pytest.mark.parametrize(
    ("kind", "tempfail", "expected"),
    [
        (MailErrorKind.NOTFOUND, False, (EX_NOUSER, "No such user: x@y")),
        (MailErrorKind.PARSE, False, (EX_USAGE, "No such user: x@y")),
        (MailErrorKind.OVERQUOTA, False, (EX_NOPERM, OVERQUOTA_TEXT)),
        (MailErrorKind.OVERQUOTA, True, (EX_TEMPFAIL, OVERQUOTA_TEXT)),
        (MailErrorKind.TOOBIG, True, (EX_NOPERM, TOOBIG_TEXT)),
        (MailErrorKind.INUSE, False, (EX_TEMPFAIL, "Temporary failure: No such user: x@y")),
        (MailErrorKind.TEMP, False, (EX_TEMPFAIL, "Temporary failure: No such user: x@y")),
    ],
)
def test_exit_status_per_kind(
    kind: MailErrorKind, tempfail: bool, expected: tuple[int, str]
) -> None:
    assert exit_status(MailError(kind, "No such user:\n x@y"), quota_full_tempfail=tempfail) == (
        expected
    )


def test_trace_fields_longer_than_the_allowance_are_refused() -> None:
    """The store allows MAX_TRACE_FIELDS_OCTETS above max_message_size for the trace
    fields; an address that would need more is refused rather than stored over the limit."""
    fitting = "s" * 200 + "@remote.example"
    assert len(trace_fields(fitting, "alice@example.test")) < MAX_TRACE_FIELDS_OCTETS
    too_long = "s" * MAX_TRACE_FIELDS_OCTETS + "@remote.example"
    with pytest.raises(MailError) as caught:
        trace_fields(too_long, "alice@example.test")
    assert caught.value.kind is MailErrorKind.PARSE
