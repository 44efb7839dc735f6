"""TLS channel bindings (RFC 5056) a SASL mechanism can bind to (SCRAM-*-PLUS, RFC 5802 §6).

What Python 3.11's `ssl` module lets a server compute honestly:

- **tls-server-end-point** (RFC 5929 §4): the hash of the server's own certificate. `ssl`
  cannot hand back the certificate a context serves, so `tidings.net.tls` registers its
  hash here when it loads the certificate into the context (`register_certificate`); a
  connection finds it through `SSLObject.context`. Works on TLS 1.2 and 1.3.
- **tls-unique** (RFC 5929 §3): `SSLObject.get_channel_binding("tls-unique")`, offered only
  on TLS 1.2 and only after a full handshake. RFC 8446 §C.5 / RFC 9266 leave it undefined for
  TLS 1.3, where CPython still returns a value (python/cpython#95341); after session
  resumption without the extended master secret it is not unique (the triple handshake
  attack), and `ssl` cannot tell whether that extension was negotiated.
- **tls-exporter** (RFC 9266) needs `SSL_export_keying_material`, which `ssl` does not expose
  (python/cpython#82133), so it is not offered; a client that asks gets
  `e=unsupported-channel-binding-type`.
"""

from __future__ import annotations

import ssl
import weakref

TLS_SERVER_END_POINT = "tls-server-end-point"
TLS_UNIQUE = "tls-unique"

# The tls-server-end-point value of each server context's certificate.
_END_POINTS: weakref.WeakKeyDictionary[ssl.SSLContext, bytes] = weakref.WeakKeyDictionary()


def register_certificate(context: ssl.SSLContext, end_point_hash: bytes | None) -> None:
    """Remember the tls-server-end-point hash of the certificate `context` serves (None: the
    certificate's signature uses no single hash, RFC 5929 §4.1 leaves the binding undefined)."""
    if end_point_hash is None:
        _END_POINTS.pop(context, None)
    else:
        _END_POINTS[context] = end_point_hash


def channel_bindings(ssl_object: ssl.SSLObject | None) -> dict[str, bytes]:
    """The binding data this server can offer on a connection, by type; {} without TLS."""
    if ssl_object is None:
        return {}
    bindings: dict[str, bytes] = {}
    end_point = _END_POINTS.get(ssl_object.context)
    if end_point is not None:
        bindings[TLS_SERVER_END_POINT] = end_point
    if ssl_object.version() == "TLSv1.2" and not ssl_object.session_reused:
        unique = ssl_object.get_channel_binding(TLS_UNIQUE)
        if unique:
            bindings[TLS_UNIQUE] = unique
    return bindings
