"""The fixed replies of the protocol, each with the RFC that assigns its codes.

Codes and enhanced codes follow Dovecot 2.3's LMTP server wherever it sends one for the same
situation (tests/differential/test_lmtp_vs_dovecot.py compares them); texts follow it where
that helps someone reading a log, and are free otherwise (RFC 5321 §4.2: clients act on codes).
"""

from __future__ import annotations

from tidings.lmtp.proto.replies import Reply, reply

OK = reply(250, "2.0.0", "OK")  # RSET, NOOP (RFC 5321 §4.1.1.5, §4.1.1.9)
SENDER_OK = reply(250, "2.1.0", "OK")  # RFC 3463 §3.2: X.1.0 other address status
RECIPIENT_OK = reply(250, "2.1.5", "OK")  # RFC 3463 §3.2: X.1.5 destination address valid
START_DATA = reply(354, None, "OK")  # RFC 5321 §4.1.1.4; no 3.x.x class exists (RFC 3463)
BYE = reply(221, "2.0.0", "Bye")  # RFC 5321 §4.1.1.10
# RFC 5321 §3.5.3: 252 "Cannot VRFY user, but will accept message and attempt delivery".
VRFY_UNSUPPORTED = reply(252, "2.3.3", "Try RCPT instead")

# RFC 5321 §4.2.2 500/501, RFC 3463 §3.6: X.5.1 invalid command, X.5.2 syntax error,
# X.5.4 invalid command arguments.
UNKNOWN_COMMAND = reply(500, "5.5.1", "Unknown command")
INVALID_SYNTAX = reply(500, "5.5.2", "Invalid command syntax")
LINE_TOO_LONG = reply(500, "5.5.2", "Line too long")
INVALID_PARAMETERS = reply(501, "5.5.4", "Invalid parameters")
MISSING_HOSTNAME = reply(501, "5.5.4", "Missing hostname")
# RFC 5321 §4.1.1.11: 555 "MAIL FROM/RCPT TO parameters not recognized or not implemented".
UNSUPPORTED_PARAMETERS = reply(555, "5.5.4", "Unsupported parameters")
UNSUPPORTED_BODY = reply(555, "5.5.4", "Unsupported mail BODY type")

# RFC 5321 §4.2.2 503 "Bad sequence of commands", RFC 3463 X.5.0 other protocol status.
MAIL_NEEDED = reply(503, "5.5.0", "MAIL needed first")
MAIL_ALREADY_GIVEN = reply(503, "5.5.0", "MAIL already given")
NO_VALID_RECIPIENTS = reply(503, "5.5.0", "No valid recipients")
BAD_SEQUENCE = reply(503, "5.5.0", "Bad sequence of commands")
CHUNK_FAILED = reply(503, "5.5.0", "Previous data chunk failed, issue RSET first")

# RFC 1870 §6.1: 552 "message size exceeds fixed maximum message size";
# RFC 3463 §3.4 X.3.4 "Message too big for system".
MESSAGE_TOO_BIG = reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
# RFC 5321 §4.5.3.1.10: 452 "too many recipients"; RFC 3463 §3.6 X.5.3.
TOO_MANY_RECIPIENTS = reply(452, "4.5.3", "Too many recipients")


def greeting(hostname: str) -> Reply:
    """220 (RFC 5321 §4.2, §3.1): no enhanced code on the greeting (RFC 2034 §3)."""
    return reply(220, None, f"{hostname} Tidings ready.")


def lhlo(hostname: str, max_message_size: int) -> Reply:
    """The LHLO reply (RFC 2033 §4.1, RFC 5321 §4.1.1.1): the host, then one extension per
    line, in Dovecot's (alphabetical) order. SIZE carries the limit (RFC 1870 §4)."""
    extensions = (
        "8BITMIME",  # RFC 6152
        "CHUNKING",  # RFC 3030
        "ENHANCEDSTATUSCODES",  # RFC 2034
        "PIPELINING",  # RFC 2920
        f"SIZE {max_message_size}",  # RFC 1870
        "SMTPUTF8",  # RFC 6531
    )
    return reply(250, None, hostname, *extensions)


def too_many_bad_commands(hostname: str) -> Reply:
    """Dovecot's reply when a client exhausts its bad-command budget; then the connection
    closes (RFC 5321 §3.8: 421 may be sent when the server must close)."""
    return reply(421, "4.7.0", f"{hostname} Too many invalid commands.")


def timed_out(hostname: str) -> Reply:
    """421 then close after lmtp_timeout seconds of silence (RFC 5321 §4.5.3.2.7);
    RFC 3463 X.4.2 "bad connection", as Postfix uses for its timeout."""
    return reply(421, "4.4.2", f"{hostname} Disconnected for inactivity.")


def chunk_added(size: int) -> Reply:
    """A BDAT chunk that is not the last (RFC 3030 §2), in Dovecot's words."""
    return reply(250, "2.0.0", f"Added {size} octets")
