"""`tidings serve --workers N`: several serving processes on one machine (issue 7).

The supervisor (`supervisor.py`) binds every listening socket once, prepares the store, and
runs N worker processes (`worker.py`) that inherit the sockets; the kernel hands each
incoming connection to whichever worker accepts first. Every worker is a full node: its own
store connection, hub and change-notice relay (`tidings.notify.relay`), so an IDLE on one
worker hears of an APPEND or a delivery handled by another. `restart.py` decides when a
worker that died is started again.
"""
