"""Recipient addresses: syntax and the accounts an address may reach (no I/O here).

`alice+tag@Example.TEST` may reach the account `alice+tag@example.test` (an account that
really has the delimiter in its name wins, as in Postfix) or else `alice@example.test` with
the detail `tag` (plus addressing: Postfix's and Dovecot's recipient_delimiter).
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.core.errors import MailError, MailErrorKind
from tidings.delivery.settings import DeliverySettings


@dataclass(frozen=True, slots=True)
class Candidate:
    """An account an address may reach, and the detail it then carries."""

    account: str
    detail: str | None


def _bad_character(char: str) -> bool:
    return char.isspace() or ord(char) < 0x20 or char == "\x7f"


def strip_address(address: str) -> str:
    """`address` without surrounding white space and one pair of angle brackets."""
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1]
    return address


def split_address(address: str) -> tuple[str, str]:
    """(local part, domain) of a bare address; MailError(PARSE) unless it is `local@domain`
    with exactly one "@" and no white space or control characters."""
    local, at, domain = address.partition("@")
    if not at or not local or not domain or "@" in domain:
        raise MailError(MailErrorKind.PARSE, f"not an email address: {address!r}")
    if any(_bad_character(char) for char in address):
        raise MailError(MailErrorKind.PARSE, f"not an email address: {address!r}")
    return local, domain


def _account_local(local: str, case_sensitive: bool) -> str | None:
    """The local part as stored (lower-case), or None if it cannot match one."""
    if not case_sensitive:
        return local.lower()
    # Accounts are stored lower-case: with case-sensitive local parts only that form matches.
    return local if local == local.lower() else None


def candidates(address: str, settings: DeliverySettings) -> list[Candidate]:
    """The accounts `address` may reach, the preferred first. MailError(PARSE) if it is no
    address.

    The domain never depends on case (RFC 5321 §2.4); the local part does only when
    `settings.local_part_case_sensitive` is on. Every character of the recipient delimiter
    is a delimiter, and the first one in the local part splits it (as in Postfix and
    Dovecot); the detail keeps its case, since mailbox names are case-sensitive.
    """
    local, domain = split_address(address)
    domain = domain.lower()
    case_sensitive = settings.local_part_case_sensitive
    found: list[Candidate] = []
    whole = _account_local(local, case_sensitive)
    if whole is not None:
        found.append(Candidate(f"{whole}@{domain}", None))
    delimiters = settings.recipient_delimiter
    split_at = next((i for i, char in enumerate(local) if char in delimiters), -1)
    if delimiters and split_at > 0:
        user = _account_local(local[:split_at], case_sensitive)
        detail = local[split_at + 1 :]
        if user is not None:
            found.append(Candidate(f"{user}@{domain}", detail or None))
    return found
