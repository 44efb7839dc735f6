"""A message as an MTA pipes it to a command (`tidings deliver`), made ready to store.

Two differences from what LMTP receives, both handled as dovecot-lda handles them:
- Line endings: MTAs pipe messages with bare LF line endings (Postfix's local(8) and
  pipe(8), procmail). Stored messages use CRLF, as RFC 5322 §2.1 requires and as IMAP sends
  them, so every LF not already preceded by CR becomes CRLF; CRLF input is kept as it is.
- The mbox "From " line: Postfix's local(8) prepends `From sender time_stamp` for a mailbox
  command, procmail passes it on. It is an envelope line of the mbox format, not a header
  field, so a first line starting with "From " is dropped (dovecot-lda drops it too; a
  `From:` header field has a colon, not a space, and is kept).
"""

from __future__ import annotations

import re

_BARE_LF = re.compile(rb"(?<!\r)\n")
MBOX_FROM_LINE = b"From "


def message_from_pipe(data: bytes) -> bytes:
    """`data` without a leading mbox "From " line, with bare LF line endings as CRLF."""
    if data.startswith(MBOX_FROM_LINE):
        newline = data.find(b"\n")
        data = b"" if newline < 0 else data[newline + 1 :]
    return _BARE_LF.sub(b"\r\n", data)
