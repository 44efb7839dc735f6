"""Tidings: a mail access server (IMAP4rev2/IMAP4rev1 with IDLE push, POP3, LMTP)."""

__version__ = "0.1.0"
