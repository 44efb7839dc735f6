"""The COMPRESS extension's syntax (RFC 4978 §5).

    command-auth    =/ compress
    compress        = "COMPRESS" SP algorithm
    capability      =/ "COMPRESS=" algorithm
    algorithm       = "DEFLATE"
    resp-text-code  =/ "COMPRESSIONACTIVE"

Any atom is accepted as the algorithm, so that the session can answer an unknown one with a
reason of its own (`BAD`, RFC 4978 §3) rather than a generic syntax error.
"""

from __future__ import annotations

from tidings.imap.proto.commands import Compress
from tidings.imap.proto.lexer import Cursor

# RFC 4978 §3 defines one mechanism.
DEFLATE = "DEFLATE"


def parse_compress(cursor: Cursor, tag: str) -> Compress:
    """The argument of COMPRESS, the cursor after the command name."""
    cursor.sp()
    mechanism = cursor.atom("compression mechanism")
    cursor.end()
    return Compress(tag, mechanism)
