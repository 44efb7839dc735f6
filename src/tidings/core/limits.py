"""Every limit the server enforces, named, with its default and the reason for it.

Each field can be set in the `[limits]` table of the TOML configuration file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Budgets against abusive or broken clients. Sizes are in bytes, times in seconds."""

    # Longest command line, literals excluded. RFC 9051 §4 sets no limit but recommends at
    # least 8000 octets (RFC 7162 §4 raises that for CONDSTORE clients); Dovecot uses 64 KiB.
    max_line_length: int = 65536
    # Largest single literal, and so the largest APPENDed message (advertised as APPENDLIMIT).
    max_message_size: int = 50 * 1024 * 1024
    # Largest command with all its literals, e.g. one MULTIAPPEND of several messages (RFC
    # 3502), which is held in memory until it is stored atomically. A command over it gets
    # NO [LIMIT] at the literal that passes it. Never below one message: the driver allows
    # at least max_message_size + max_line_length whatever this says.
    max_command_size: int = 200 * 1024 * 1024
    # Messages in one APPEND (RFC 3502 MULTIAPPEND): more get NO [LIMIT]. Each synchronizing
    # literal is checked against the messages before it, so this bounds that work too.
    max_append_messages: int = 1000
    # Commands answered BAD before the server says BYE (Dovecot: 20, aiosmtpd: 20).
    max_bad_commands: int = 20
    # Autologout once authenticated: RFC 9051 §5.4 requires at least 30 minutes.
    idle_timeout_authenticated: float = 30 * 60
    # Autologout before authentication; short, since such connections cost without use.
    idle_timeout_unauthenticated: float = 60
    # Delay before answering a failed LOGIN/AUTHENTICATE (Dovecot's auth_failure_delay: 2s).
    auth_failure_delay: float = 2.0
    # Failures from one address within `auth_failure_window` after which each further
    # failure waits `auth_failure_delay` times the excess (capped at `auth_max_delay`).
    auth_failures_before_throttle: int = 3
    auth_failure_window: float = 300.0
    auth_max_delay: float = 15.0
    # Failed authentications on one connection before BYE.
    max_auth_failures_per_connection: int = 3
    # Seconds a successful password check is remembered, so that a client that logs in
    # again and again (a phone polling, a webmail making a connection per request) does not
    # pay one Argon2 run (tens of ms of CPU and 64 MiB) each time; 0 turns the cache off.
    # Like Dovecot's auth_cache_ttl (whose default is an hour), but short: an entry is
    # keyed by an HMAC of address, password and stored hash, never the password, and each
    # hit still reads the stored hash, so a password change or a removed account takes
    # effect at once whatever this says. Failures are never cached.
    auth_cache_ttl: float = 60.0
    # PBKDF2 iterations of the SCRAM-SHA-256 secrets made when a password is set (RFC 7677
    # §4: at least 4096; lower values are raised to 4096). 10000 costs about 10 ms per
    # password set here, and each guess an attacker makes from stolen secrets as much.
    scram_iterations: int = 10000
    # Length of a mailbox name in bytes (Dovecot's mailbox_list_max_name: 255 per level).
    max_mailbox_name_length: int = 1024
    # Untagged changes queued for one session before it must resync from the change log.
    notify_queue_size: int = 1024
    # RFC 5464 METADATA (Dovecot bounds its attributes too, see imap_metadata): the largest
    # value SETMETADATA stores (larger: NO [METADATA MAXSIZE n]), the entries one mailbox
    # (or the server entries of an account) may hold, and the octets of entry names and
    # values one account may hold in all (more: NO [METADATA TOOMANY]).
    max_metadata_value_size: int = 64 * 1024
    max_metadata_entries: int = 256
    max_metadata_total_size: int = 1024 * 1024
    # Message IDs of one message's References that THREAD=REFERENCES links (RFC 5256 §2.4;
    # the last ones, nearest the message, are kept). Each link checks for loops by walking up
    # the thread, so a References of n IDs costs O(n^2): a crafted message with a huge field
    # must not stall THREAD. Real mail carries a few dozen at most (RFC 5322 §3.6.4 suggests
    # trimming); Dovecot has no bound.
    max_thread_references: int = 1000

    # LMTP (RFC 2033). max_message_size and max_bad_commands above apply to LMTP too.
    # Longest LMTP command line (RFC 5321 §4.5.3.1.4 requires at least 512 octets; SIZE,
    # BODY and SMTPUTF8 parameters need more). Lines inside DATA are limited only by size.
    lmtp_max_line_length: int = 4096
    # Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100 must be accepted).
    lmtp_max_recipients: int = 100
    # Seconds an LMTP client may stay silent (RFC 5321 §4.5.3.2.7 suggests 5 minutes).
    lmtp_timeout: float = 300.0

    # POP3 (RFC 1939). max_bad_commands and the auth_* throttles above apply to POP3 too.
    # Longest POP3 command line (RFC 2449 §4 allows 255 octets; AUTH PLAIN with an
    # initial response of a long address and password needs more, Dovecot allows 4096).
    pop3_max_line_length: int = 4096
    # Autologout after this many seconds of silence (RFC 1939 §3: at least 10 minutes).
    pop3_timeout: float = 600.0
