"""The one error type of the watcher's configuration layer (config, URL, secrets, state)."""

from __future__ import annotations


class ConfigError(Exception):
    """The watcher's configuration is unusable; the message is one line naming the key and why.

    The CLI prints it as `tidings watch: error: <message>` and exits with status 2.
    """
