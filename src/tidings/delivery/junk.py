"""Junk routing: did an upstream spam filter mark this message? (no I/O here)

SpamAssassin adds `X-Spam-Flag: YES` and `X-Spam-Status: Yes, score=...`, rspamd adds
`X-Spam: Yes`; the rules are configurable (`[delivery] junk_rules`). A rule matches any
instance of its header in the message's header section, with folded values unfolded first
(RFC 5322 §2.2.3), so `X-Spam-Status: Yes,\\r\\n\\tscore=7.1` is seen as `Yes,\\tscore=7.1`.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.core.mime.headers import scan_header
from tidings.delivery.settings import JunkRule


def matching_junk_rule(message: bytes, rules: Sequence[JunkRule]) -> JunkRule | None:
    """The first rule that a header field of `message` satisfies, or None."""
    if not rules:
        return None
    by_name: dict[str, list[JunkRule]] = {}
    for rule in rules:
        by_name.setdefault(rule.header.lower(), []).append(rule)
    fields, _, _ = scan_header(message, 0, len(message))
    for field in fields:
        if field.value is None:
            continue
        for rule in by_name.get(field.name.lower(), ()):
            if rule.matches(field.value):
                return rule
    return None
