"""SQLite-flavoured SQL to PostgreSQL's, statement by statement.

The SQL modules (tidings/storage/sqlite/sql.py) keep to what both engines understand, with
`?` placeholders. What remains is rewritten here, each rule with the construct it covers:
- `?` becomes `$1`, `$2`, ... (asyncpg numbers its parameters), outside string literals;
- SQLite's two-argument scalar `max(a, b)` is PostgreSQL's `greatest(a, b)`;
- `json_each(?)` over a JSON array of UIDs is `json_array_elements_text`, cast back to
  BIGINT;
- the octet length of a text column, `length(CAST(x AS BLOB))`, is `octet_length(x)`.
A statement is translated once and remembered: the modules build few distinct statements.
"""

from __future__ import annotations

import functools
import re

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bmax\((\w+), \?\)"), r"greatest(\1, ?)"),
    (
        re.compile(r"SELECT value FROM json_each\(\?\)"),
        "SELECT value::bigint FROM json_array_elements_text(?::json) AS value",
    ),
    (re.compile(r"length\(CAST\((\w+) AS BLOB\)\)"), r"octet_length(\1)"),
)


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """`sql` as PostgreSQL reads it."""
    for pattern, replacement in _REWRITES:
        sql = pattern.sub(replacement, sql)
    return _number_placeholders(sql)


def _number_placeholders(sql: str) -> str:
    out: list[str] = []
    number = 0
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(char)
    return "".join(out)
