"""One worker process of `tidings serve --workers N`: `python -m tidings.workers FD`.

FD is this end of a socket pair shared with the supervisor. The supervisor first sends the
worker's `WorkerSpec` on it; the worker answers `READY` once its listeners accept. After
that the supervisor sends `STOP` to shut the worker down, and end of file means the
supervisor is gone (even if it was SIGKILLed, since the kernel closes a dead process's
descriptors): the worker shuts down rather than linger with nobody to restart or stop it.
SIGTERM/SIGINT stop the worker as they stop `serve`, and are absorbed for the rest of
its life, shutdown included.

The supervisor passes its SIGTERM on as `STOP`, not as a signal: the worker often gets the
same signal itself (Ctrl-C reaches the terminal's whole process group, systemd signals the
whole control group, `timeout` its process group). For the same reason the worker keeps
its own handlers instead of `run_server`'s, which are removed when shutdown begins: a signal
arriving after the `STOP` would otherwise kill the worker in the middle of its shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import socket
import struct
import sys
from dataclasses import dataclass

from tidings.app import StartupError, configure_logging, run_server
from tidings.config import Config

logger = logging.getLogger("tidings.workers")

READY = b"R"
STOP = b"S"
_LENGTH = struct.Struct("!I")


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a worker needs: its number (for the log), the configuration and the inherited
    listening sockets' descriptors by listener name ("imap", ..., "lmtp_socket")."""

    index: int
    config: Config
    sockets: dict[str, list[int]]


def encode_spec(spec: WorkerSpec) -> bytes:
    """The spec as the supervisor sends it: a length, then a pickle. Pickle is safe here:
    the only sender is this worker's own parent, over a socket pair nobody else holds."""
    body = pickle.dumps(spec)
    return _LENGTH.pack(len(body)) + body


def receive_spec(control: socket.socket) -> WorkerSpec:
    """Read the spec the supervisor sends first. Raises EOFError if it never comes."""
    (length,) = _LENGTH.unpack(_receive_exactly(control, _LENGTH.size))
    spec = pickle.loads(_receive_exactly(control, length))  # trusted sender: see encode_spec
    if not isinstance(spec, WorkerSpec):
        raise EOFError("the supervisor sent something other than a WorkerSpec")
    return spec


def _receive_exactly(control: socket.socket, count: int) -> bytes:
    chunks: list[bytes] = []
    while count:
        chunk = control.recv(count)
        if not chunk:
            raise EOFError("the supervisor closed the control socket")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


async def serve(spec: WorkerSpec, control: socket.socket) -> None:
    """Run the server on the inherited sockets until a signal, or until the supervisor is
    gone."""
    bound = {name: [socket.socket(fileno=fd) for fd in fds] for name, fds in spec.sockets.items()}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    control.setblocking(False)

    def supervisor_spoke() -> None:
        try:
            data = control.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            logger.warning("the supervisor is gone; shutting down")
            loop.remove_reader(control.fileno())
        if not data or STOP in data:
            stop.set()

    def ready() -> None:
        control.send(READY)  # one byte into an empty socket buffer: never blocks

    def on_signal(signum: int, frame: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the worker is exiting
            loop.call_soon_threadsafe(stop.set)

    loop.add_reader(control.fileno(), supervisor_spoke)
    # signal.signal, not loop.add_signal_handler: the loop removes its handlers when it
    # closes, and a signal between that and the process's exit would kill the worker.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    try:
        await run_server(spec.config, ready=ready, stop=stop, bound=bound, handle_signals=False)
    finally:
        loop.remove_reader(control.fileno())
        for sockets in bound.values():
            for sock in sockets:
                sock.close()


def main(argv: list[str]) -> int:
    """The worker's entry point; returns the exit status."""
    control = socket.socket(fileno=int(argv[1]))
    try:
        spec = receive_spec(control)
    except (EOFError, OSError) as error:
        print(f"error: no work from the supervisor: {error}", file=sys.stderr)
        return 1
    configure_logging(spec.config.log_level, worker=spec.index)
    try:
        asyncio.run(serve(spec, control))
    except (StartupError, OSError) as error:
        logger.error("%s", error)
        return 1
    finally:
        # Done: ignored signals stay ignored through the interpreter's exit, which resets
        # Python-level handlers to the default (killing) action.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        control.close()
    return 0
