"""Junk rules against header sections: every default form, folding, configured rules."""

from __future__ import annotations

import pytest

from tidings.config import ConfigError, delivery_from_table
from tidings.delivery.junk import matching_junk_rule
from tidings.delivery.settings import DEFAULT_JUNK_RULES, JunkRule


def message(*fields: str, body: str = "Hello.\r\n") -> bytes:
    return (
        "".join(f"{field}\r\n" for field in ("From: a@b.test", *fields)) + "\r\n" + body
    ).encode()


@pytest.mark.parametrize(
    "field",
    [
        "X-Spam-Flag: YES",  # SpamAssassin
        "X-Spam-Flag: yes",
        "x-spam-flag:YES ",
        "X-Spam: Yes",  # rspamd
        "X-Spam:    yes",
        "X-Spam-Status: Yes, score=7.1 required=5.0 tests=BAYES_99",  # SpamAssassin
        "X-Spam-Status: YES,score=9",
    ],
)
def test_every_default_form_marks_spam(field: str) -> None:
    assert matching_junk_rule(message(field), DEFAULT_JUNK_RULES) is not None


@pytest.mark.parametrize(
    "field",
    [
        "X-Spam-Flag: NO",
        "X-Spam: No",
        "X-Spam-Status: No, score=-0.1 required=5.0",
        "X-Spam-Status: Yes",  # the rule wants "Yes," (SpamAssassin always adds the score)
        "X-Spam-Flag: YESSIR",
        "X-Spam-Level: ***********",
        "X-Not-Spam-Flag: YES",
    ],
)
def test_ham_and_look_alikes_do_not(field: str) -> None:
    assert matching_junk_rule(message(field), DEFAULT_JUNK_RULES) is None


def test_folded_values_are_unfolded_before_matching() -> None:
    folded = message("X-Spam-Status: Yes,\r\n\tscore=7.1\r\n required=5.0")
    assert matching_junk_rule(folded, DEFAULT_JUNK_RULES) == JunkRule("X-Spam-Status", "Yes,*")
    # Folded right after the colon: the value starts on the continuation line.
    flag = message("X-Spam-Flag:\r\n YES")
    assert matching_junk_rule(flag, DEFAULT_JUNK_RULES) == JunkRule("X-Spam-Flag", "YES")


def test_any_instance_of_the_header_counts() -> None:
    twice = message("X-Spam-Flag: NO", "Subject: hi", "X-Spam-Flag: YES")
    assert matching_junk_rule(twice, DEFAULT_JUNK_RULES) is not None


def test_bare_lf_messages_are_read_too() -> None:
    assert matching_junk_rule(b"From: a\nX-Spam: yes\n\nbody\n", DEFAULT_JUNK_RULES) is not None


def test_the_body_is_not_a_header() -> None:
    in_body = message(body="X-Spam-Flag: YES\r\n")
    assert matching_junk_rule(in_body, DEFAULT_JUNK_RULES) is None


def test_configured_rules_replace_the_defaults() -> None:
    settings = delivery_from_table({"junk_rules": ["X-Filter-Verdict: spam", "X-Score: 9*"]})
    rules = settings.junk_rules
    assert matching_junk_rule(message("X-Filter-Verdict: SPAM"), rules) == rules[0]
    assert matching_junk_rule(message("X-Score: 9.5"), rules) == rules[1]
    assert matching_junk_rule(message("X-Spam-Flag: YES"), rules) is None
    assert matching_junk_rule(message("X-Spam-Flag: YES"), ()) is None


@pytest.mark.parametrize("text", ["no colon", ": value", "Header:", "Two Words: x"])
def test_malformed_configured_rules_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="junk_rules"):
        delivery_from_table({"junk_rules": [text]})
