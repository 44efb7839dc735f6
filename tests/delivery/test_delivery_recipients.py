"""Recipient syntax and the accounts an address may reach (plus addressing, case rules)."""

from __future__ import annotations

import dataclasses

import pytest

from tidings.core.errors import MailError, MailErrorKind
from tidings.delivery.recipients import Candidate, candidates, split_address, strip_address
from tidings.delivery.settings import DeliverySettings

DEFAULT = DeliverySettings()


def settings(**changes: object) -> DeliverySettings:
    return dataclasses.replace(DEFAULT, **changes)  # type: ignore[arg-type]


def test_angle_brackets_and_outer_white_space_are_stripped() -> None:
    assert strip_address(" <alice@example.test> ") == "alice@example.test"
    assert strip_address("alice@example.test") == "alice@example.test"
    assert strip_address("<>") == ""


def test_plain_address_reaches_its_account_with_the_domain_folded() -> None:
    # RFC 5321 §2.4: domains are case-insensitive.
    assert candidates("alice@Example.TEST", DEFAULT) == [Candidate("alice@example.test", None)]


def test_plus_address_prefers_a_literal_account_then_the_user_with_a_detail() -> None:
    assert candidates("alice+News@example.test", DEFAULT) == [
        Candidate("alice+news@example.test", None),
        Candidate("alice@example.test", "News"),  # the detail keeps its case
    ]


def test_the_first_delimiter_splits_and_every_character_of_the_setting_is_one() -> None:
    found = candidates("a-b+c@x.test", settings(recipient_delimiter="+-"))
    assert found[1] == Candidate("a@x.test", "b+c")


def test_no_delimiter_means_no_plus_addressing() -> None:
    assert candidates("alice+tag@x.test", settings(recipient_delimiter="")) == [
        Candidate("alice+tag@x.test", None)
    ]


def test_empty_user_or_detail() -> None:
    assert candidates("+tag@x.test", DEFAULT) == [Candidate("+tag@x.test", None)]
    assert candidates("alice+@x.test", DEFAULT)[1] == Candidate("alice@x.test", None)


def test_case_insensitive_local_part_is_folded_by_default() -> None:
    assert candidates("Alice+Tag@x.test", DEFAULT) == [
        Candidate("alice+tag@x.test", None),
        Candidate("alice@x.test", "Tag"),
    ]


def test_case_sensitive_local_part_matches_only_the_stored_lower_case_form() -> None:
    sensitive = settings(local_part_case_sensitive=True)
    assert candidates("Alice@x.test", sensitive) == []
    assert candidates("alice+Tag@X.TEST", sensitive) == [Candidate("alice@x.test", "Tag")]


@pytest.mark.parametrize(
    "address",
    ["", "alice", "@x.test", "alice@", "a@b@c", "a b@x.test", "a@x.test\r\nBcc: e", "a\x00@x"],
)
def test_anything_but_local_at_domain_is_a_parse_error(address: str) -> None:
    with pytest.raises(MailError) as caught:
        split_address(address)
    assert caught.value.kind is MailErrorKind.PARSE
    assert "not an email address" in caught.value.reason
