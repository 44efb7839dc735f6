"""Where `tidings watch` sends events: stdout, an exec hook, a webhook, the desktop."""

from tidings.watch.sinks.desktop import DesktopSink
from tidings.watch.sinks.exec import ExecSink
from tidings.watch.sinks.retry import SinkFailed, SinkGaveUp
from tidings.watch.sinks.stdout import StdoutSink
from tidings.watch.sinks.webhook import WebhookSink, sign, verify_signature

__all__ = [
    "DesktopSink",
    "ExecSink",
    "SinkFailed",
    "SinkGaveUp",
    "StdoutSink",
    "WebhookSink",
    "sign",
    "verify_signature",
]
