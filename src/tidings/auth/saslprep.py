"""SASLprep (RFC 4013): the stringprep profile SCRAM applies to passwords (RFC 5802 §2.2).

Built on the stdlib's `stringprep` tables, which are those of RFC 3454 (Unicode 3.2), and the
Unicode 3.2 normalisation data `unicodedata.ucd_3_2_0`, as RFC 4013 §2.2 requires.
"""

from __future__ import annotations

import stringprep
import unicodedata

# RFC 4013 §2.3: the prohibited output (C.2.1 and C.2.2 together are checked as C.2).
_PROHIBITED = (
    stringprep.in_table_c12,  # non-ASCII space characters
    stringprep.in_table_c21_c22,  # ASCII and non-ASCII control characters
    stringprep.in_table_c3,  # private use
    stringprep.in_table_c4,  # non-character code points
    stringprep.in_table_c5,  # surrogate codes
    stringprep.in_table_c6,  # inappropriate for plain text
    stringprep.in_table_c7,  # inappropriate for canonical representation
    stringprep.in_table_c8,  # change display properties or deprecated
    stringprep.in_table_c9,  # tagging characters
)


class SaslprepError(ValueError):
    """The string contains what SASLprep prohibits (RFC 4013 §2.3-§2.5)."""


def saslprep(text: str, *, allow_unassigned: bool = False) -> str:
    """`text` prepared with SASLprep; raises SaslprepError for prohibited output.

    `allow_unassigned=False` treats `text` as a "stored string" (RFC 3454 §7), as RFC 5802
    §2.2 asks for SCRAM: code points unassigned in Unicode 3.2 are then prohibited.
    """
    # RFC 4013 §2.1: non-ASCII spaces map to SPACE, "commonly mapped to nothing" (B.1) go.
    mapped = "".join(
        " " if stringprep.in_table_c12(char) else char
        for char in text
        if not stringprep.in_table_b1(char)
    )
    # RFC 4013 §2.2: Unicode normalisation form KC.
    normalized = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    for char in normalized:
        if any(table(char) for table in _PROHIBITED):
            raise SaslprepError(f"prohibited character U+{ord(char):04X}")
        # RFC 4013 §2.5 / RFC 3454 §7: unassigned code points.
        if not allow_unassigned and stringprep.in_table_a1(char):
            raise SaslprepError(f"unassigned code point U+{ord(char):04X}")
    _check_bidi(normalized)
    return normalized


def _check_bidi(text: str) -> None:
    """RFC 4013 §2.4 / RFC 3454 §6: right-to-left text must be wholly right-to-left."""
    if not any(stringprep.in_table_d1(char) for char in text):
        return
    if any(stringprep.in_table_d2(char) for char in text):
        raise SaslprepError("mixes right-to-left and left-to-right characters")
    if not (stringprep.in_table_d1(text[0]) and stringprep.in_table_d1(text[-1])):
        raise SaslprepError("right-to-left text must start and end right-to-left")
