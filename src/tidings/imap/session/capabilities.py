"""What the server advertises (RFC 9051 §6.1.1), depending on state and transport.

IMAP4rev1 is listed before IMAP4rev2 (DESIGN.md: servers that led with rev2 broke clients).
"""

from __future__ import annotations

from tidings.auth.sasl import mechanism_names
from tidings.imap.session.state import SessionState

# Advertised in every state.
_ALWAYS = ("IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE")

# Advertised once authenticated: each is implemented in full.
_AUTHENTICATED = (
    "NAMESPACE",  # RFC 2342
    "ACL",  # RFC 4314
    "RIGHTS=texk",  # RFC 4314 §2.1.1
    "UNSELECT",  # RFC 3691
    "UIDPLUS",  # RFC 4315
    "MOVE",  # RFC 6851
    "CHILDREN",  # RFC 3348
    "LIST-EXTENDED",  # RFC 5258
    "LIST-STATUS",  # RFC 5819
    "SPECIAL-USE",  # RFC 6154
    "CREATE-SPECIAL-USE",  # RFC 6154 §3
    "ESEARCH",  # RFC 4731
    "SEARCHRES",  # RFC 5182
    "BINARY",  # RFC 3516
    "STATUS=SIZE",  # RFC 8438
    "COMPRESS=DEFLATE",  # RFC 4978 (after login, as Dovecot; also after STARTTLS)
    "MULTIAPPEND",  # RFC 3502
    "UTF8=ACCEPT",  # RFC 6855
    "WITHIN",  # RFC 5032
    "SORT",  # RFC 5256
    "SORT=DISPLAY",  # RFC 5957
    "THREAD=ORDEREDSUBJECT",  # RFC 5256 §2.3
    "THREAD=REFERENCES",  # RFC 5256 §2.4
    # RFC 9208 §3.1: one QUOTA=RES-* per resource we limit. No QUOTASET: limits are set by
    # the administrator (`tidings user quota`), so SETQUOTA is refused (§4.1.3).
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "CONDSTORE",  # RFC 7162 §3.1
    "QRESYNC",  # RFC 7162 §3.2
    "OBJECTID",  # RFC 8474
    "SAVEDATE",  # RFC 8514
    "PREVIEW",  # RFC 8970
    "METADATA",  # RFC 5464 (mailbox entries)
    "METADATA-SERVER",  # RFC 5464 (server entries)
    "NOTIFY",  # RFC 5465
)


def capabilities(
    state: SessionState,
    *,
    tls_active: bool,
    tls_available: bool,
    plaintext_allowed: bool,
    append_limit: int,
    channel_binding: bool = False,
    scram: bool = False,
) -> list[str]:
    """The capability list for a connection in `state` (`scram`: advertise SCRAM-SHA-256,
    `channel_binding`: the TLS channel offers a binding type, so -PLUS too, RFC 7677 §2)."""
    names = list(_ALWAYS)
    if state is SessionState.NOT_AUTHENTICATED:
        if tls_available and not tls_active:
            names.append("STARTTLS")
        if not plaintext_allowed:
            names.append("LOGINDISABLED")  # RFC 9051 §6.2.3
        mechanisms = mechanism_names(
            plaintext_allowed=plaintext_allowed, channel_binding=channel_binding, scram=scram
        )
        names += [f"AUTH={name}" for name in mechanisms]
    else:
        names += _AUTHENTICATED
        names.append(f"APPENDLIMIT={append_limit}")  # RFC 7889
    return names
