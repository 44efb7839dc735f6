"""Command handlers, one module per command group or extension; each registers itself."""

# One import line per module, so that each extension adds its own line (not isort's merge).
# ruff: noqa: I001

from tidings.imap.session.handlers import acl  # noqa: F401  (RFC 4314 ACL)
from tidings.imap.session.handlers import append  # noqa: F401  (APPEND, RFC 3502 MULTIAPPEND)
from tidings.imap.session.handlers import compress  # noqa: F401  (COMPRESS, RFC 4978)
from tidings.imap.session.handlers import metadata  # noqa: F401  (RFC 5464 METADATA)
from tidings.imap.session.handlers import notify  # noqa: F401  (NOTIFY, RFC 5465)
from tidings.imap.session.handlers import sort  # noqa: F401  (SORT, THREAD, RFC 5256)
