"""One LMTP command line (without its line end) to a typed command, or a syntax error.

    command      = verb [SP arguments]                       (RFC 5321 §4.1.1)
    verb         = 1*ALPHA                                   (Dovecot's reading of it)
    lhlo         = "LHLO" SP Domain                          (RFC 2033 §4.1)
    mail         = "MAIL FROM:" Reverse-path [SP Mail-parameters]   (RFC 5321 §4.1.1.2)
    rcpt         = "RCPT TO:" Forward-path [SP Rcpt-parameters]     (RFC 5321 §4.1.1.3)
    esmtp-param  = esmtp-keyword ["=" esmtp-value]           (RFC 5321 §4.1.2)
    esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    esmtp-value  = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)   (RFC 6531 §3.3)
    bdat         = "BDAT" SP chunk-size [SP end-marker]      (RFC 3030 §2)
    chunk-size   = 1*DIGIT
    end-marker   = "LAST"

Verbs and keywords are case-insensitive (RFC 5321 §2.4). Each failure carries the reply
Dovecot sends for it; the session never formats a syntax error itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tidings.lmtp.proto import catalog
from tidings.lmtp.proto import commands as c
from tidings.lmtp.proto.addresses import AddressSyntaxError, parse_path
from tidings.lmtp.proto.replies import Reply, reply

_CONTROL_RE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_KEYWORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")
_VALUE_RE = re.compile(r"[\x21-\x3c\x3e-\x7e\u0080-\U0010ffff]+\Z")
_SIZE_RE = re.compile(r"[0-9]{1,20}\Z")  # RFC 1870 §3: size-value = 1*20DIGIT
_CHUNK_SIZE_RE = re.compile(r"[0-9]+\Z")


class CommandSyntaxError(ValueError):
    """The line is not a valid command; `reply` is the answer.

    `chunk_size` is set for a BDAT line whose size could be read although the rest could
    not: RFC 3030 §2 has the chunk follow the line anyway, so the reader must skip it.
    """

    def __init__(self, reply: Reply, chunk_size: int | None = None) -> None:
        super().__init__(reply.lines[0])
        self.reply = reply
        self.chunk_size = chunk_size
        # The command the verb named, when it was known (set by parse_command): the session
        # checks the sequence rules of MAIL and RCPT before their syntax, as Dovecot does.
        self.command_type: type[c.Command] | None = None


def _fail(code: int, enhanced: str, text: str) -> CommandSyntaxError:
    return CommandSyntaxError(reply(code, enhanced, text))


def parse_command(line: bytes) -> c.Command:
    """Parse one command line without its CRLF; raises CommandSyntaxError."""
    if _CONTROL_RE.search(line):
        raise CommandSyntaxError(catalog.INVALID_SYNTAX)
    verb_bytes, _, argument_bytes = line.partition(b" ")
    if verb_bytes and not verb_bytes.isalpha():
        # Like Dovecot's command parser: a verb is 1*ALPHA followed by SP or the line end;
        # anything else there ("FOO1", ".", "NOOP:") is a syntax error, not an unknown verb.
        raise CommandSyntaxError(catalog.INVALID_SYNTAX)
    verb = verb_bytes.upper().decode("ascii")
    if verb not in _PARSERS:
        raise CommandSyntaxError(catalog.UNKNOWN_COMMAND)
    command_type, parser = _PARSERS[verb]
    try:
        try:
            argument = argument_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandSyntaxError(catalog.INVALID_PARAMETERS) from None
        return parser(argument)
    except CommandSyntaxError as error:
        error.command_type = command_type
        raise


def _no_arguments(command: c.Command) -> Callable[[str], c.Command]:
    def parse(argument: str) -> c.Command:
        if argument.strip():
            raise CommandSyntaxError(catalog.INVALID_PARAMETERS)
        return command

    return parse


def _parse_noop(argument: str) -> c.Command:
    return c.Noop()  # RFC 5321 §4.1.1.9: "servers SHOULD ignore" the parameter string


def _parse_vrfy(argument: str) -> c.Command:
    # RFC 5321 §3.5.1: the argument is a user name or a mailbox; any non-empty text will do,
    # since the answer is always 252.
    if not argument.strip():
        raise CommandSyntaxError(catalog.INVALID_PARAMETERS)
    return c.Vrfy(argument.strip())


def _parse_lhlo(argument: str) -> c.Command:
    words = argument.split()
    if not words:
        raise CommandSyntaxError(catalog.MISSING_HOSTNAME)
    # Like Dovecot, anything after the domain is ignored and the domain is not checked:
    # it is only ever logged (RFC 5321 §4.1.4 forbids refusing mail for a bad one).
    return c.Lhlo(words[0])


def _split_path(argument: str, keyword: str, allow_null: bool) -> tuple[str, list[str]]:
    """`FROM:<path> params...` -> (mailbox, [param, ...])."""
    if argument[: len(keyword)].upper() != keyword:
        raise CommandSyntaxError(catalog.INVALID_PARAMETERS)
    label = keyword.rstrip(":")
    try:
        mailbox, rest = parse_path(argument[len(keyword) :], allow_null=allow_null)
    except AddressSyntaxError as error:
        raise _fail(501, "5.5.4", f"Invalid {label}: {error}") from None
    if rest and not rest.startswith(" "):
        raise _fail(501, "5.5.4", f"Invalid {label}: Invalid character after path")
    return mailbox, rest.split()


def _parameters(words: list[str]) -> dict[str, str | None]:
    """esmtp-param list -> {KEYWORD: value or None}; a repeated keyword is an error."""
    params: dict[str, str | None] = {}
    for word in words:
        keyword, equals, value = word.partition("=")
        if not _KEYWORD_RE.match(keyword) or (equals and not _VALUE_RE.match(value)):
            raise CommandSyntaxError(catalog.INVALID_PARAMETERS)
        key = keyword.upper()
        if key in params:
            raise _fail(501, "5.5.4", f"Duplicate {key} parameter")
        params[key] = value if equals else None
    return params


def _parse_mail(argument: str) -> c.Command:
    sender, words = _split_path(argument, "FROM:", allow_null=True)
    params = _parameters(words)
    size: int | None = None
    body: c.BodyType | None = None
    smtputf8 = False
    for key, value in params.items():
        if key == "SIZE":
            if value is None or not _SIZE_RE.match(value):
                raise _fail(501, "5.5.4", "Invalid SIZE parameter")
            size = int(value)
        elif key == "BODY":
            body = _body_type(value)
        elif key == "SMTPUTF8":
            if value is not None:  # RFC 6531 §3.4: the parameter takes no value
                raise _fail(501, "5.5.4", "Invalid SMTPUTF8 parameter")
            smtputf8 = True
        else:
            raise CommandSyntaxError(catalog.UNSUPPORTED_PARAMETERS)
    return c.Mail(sender, size=size, body=body, smtputf8=smtputf8)


def _body_type(value: str | None) -> c.BodyType:
    # RFC 6152 §2: BODY=7BIT / BODY=8BITMIME; BINARYMIME (RFC 3030 §3) is not announced.
    for body in c.BodyType:
        if value is not None and value.upper() == body.value:
            return body
    raise CommandSyntaxError(catalog.UNSUPPORTED_BODY)


def _parse_rcpt(argument: str) -> c.Command:
    recipient, words = _split_path(argument, "TO:", allow_null=False)
    orcpt: str | None = None
    for key, value in _parameters(words).items():
        # RFC 3461 §4.2 ORCPT=addr-type ";" xtext: kept as given, unused (Dovecot too,
        # unless lmtp_hdr_delivery_address=original).
        if key == "ORCPT" and value is not None and ";" in value:
            orcpt = value
        elif key == "ORCPT":
            raise _fail(501, "5.5.4", "Invalid ORCPT parameter")
        else:
            raise CommandSyntaxError(catalog.UNSUPPORTED_PARAMETERS)
    return c.Rcpt(recipient, orcpt=orcpt)


def _parse_bdat(argument: str) -> c.Command:
    words = argument.split()
    if not words or not _CHUNK_SIZE_RE.match(words[0]):
        # No chunk can be skipped, but the failure is still a failed BDAT for the session
        # (it refuses later chunks until RSET, as Dovecot does): report a chunk of 0 octets.
        raise CommandSyntaxError(reply(501, "5.5.4", "Invalid chunk size parameter"), 0)
    size = int(words[0])
    if len(words) == 1:
        return c.Bdat(size)
    if len(words) == 2 and words[1].upper() == "LAST":
        return c.Bdat(size, last=True)
    # The chunk follows all the same; the reader must skip it (RFC 3030 §2).
    raise CommandSyntaxError(reply(501, "5.5.4", "Invalid end marker parameter"), size)


_PARSERS: dict[str, tuple[type[c.Command], Callable[[str], c.Command]]] = {
    "LHLO": (c.Lhlo, _parse_lhlo),
    "MAIL": (c.Mail, _parse_mail),
    "RCPT": (c.Rcpt, _parse_rcpt),
    "DATA": (c.Data, _no_arguments(c.Data())),
    "BDAT": (c.Bdat, _parse_bdat),
    "RSET": (c.Rset, _no_arguments(c.Rset())),
    "NOOP": (c.Noop, _parse_noop),
    "QUIT": (c.Quit, _no_arguments(c.Quit())),
    "VRFY": (c.Vrfy, _parse_vrfy),
}
