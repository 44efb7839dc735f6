"""Command handlers, one module per command group or extension; each registers itself."""

from tidings.imap.session.handlers import notify  # noqa: F401  (NOTIFY, RFC 5465)
