"""Delivery settings (the `[delivery]` table of the configuration) and Junk rules.

Pure values, no I/O: `tidings.config` builds them, `tidings.delivery.deliverer` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class JunkRule:
    """`Header: value` marks a message as spam when the header has that value.

    Matching ignores case and surrounding white space; a value ending in `*` matches every
    value that starts with the rest (`X-Spam-Status: Yes,*` matches SpamAssassin's
    `Yes, score=7.1 required=5.0 ...`).
    """

    header: str
    value: str

    @classmethod
    def parse(cls, text: str) -> JunkRule:
        """`"X-Spam-Flag: YES"` -> JunkRule("X-Spam-Flag", "YES"); ValueError if malformed."""
        name, colon, value = text.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not name or not value or any(c.isspace() for c in name):
            raise ValueError(f"junk rule must look like 'Header: value', not {text!r}")
        return cls(name, value)

    def matches(self, value: str) -> bool:
        """Whether a header value (unfolded) satisfies this rule."""
        wanted = self.value.lower()
        got = value.strip().lower()
        if wanted.endswith("*"):
            return got.startswith(wanted[:-1])
        return got == wanted


# SpamAssassin's X-Spam-Flag and X-Spam-Status, rspamd's X-Spam.
DEFAULT_JUNK_RULES: tuple[JunkRule, ...] = (
    JunkRule("X-Spam-Flag", "YES"),
    JunkRule("X-Spam", "Yes"),
    JunkRule("X-Spam-Status", "Yes,*"),
)


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How LMTP and `tidings deliver` file mail. Every field is a `[delivery]` config key."""

    # Separates the detail from the user in `alice+tag@example.test` (Postfix's
    # recipient_delimiter, Dovecot's recipient_delimiter). Empty: no plus addressing.
    recipient_delimiter: str = "+"
    # File `alice+tag@...` into the mailbox `tag` when it exists (Dovecot's
    # lmtp_save_to_detail_mailbox, off by default there too); otherwise INBOX.
    detail_mailbox: bool = False
    # Whether `Alice@...` and `alice@...` are different recipients. Domains never are
    # (RFC 5321 §2.4); accounts are stored lower-case, so when this is on only the
    # lower-case local part matches.
    local_part_case_sensitive: bool = False
    # Route mail matching `junk_rules` to the account's \Junk mailbox; an account can
    # override this (`tidings user junk-routing ADDRESS on|off|default`).
    junk_routing: bool = True
    junk_rules: tuple[JunkRule, ...] = DEFAULT_JUNK_RULES
    # Over quota is permanent (552 5.2.2, the message bounces) unless this is on (452 4.2.2,
    # the MTA retries later), as Dovecot's quota_full_tempfail.
    quota_full_tempfail: bool = False
    # The name LMTP's greeting and replies use; empty means the machine's host name.
    hostname: str = field(default="")
