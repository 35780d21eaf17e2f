"""Argument checks the ``hover-audio`` commands share, made before any work: types the
parser applies (a bad value is refused with exit 2 and the usage), and whether the
server can listen where it is asked to."""
from __future__ import annotations

import argparse


def port_number(text: str) -> int:
    """``--port``: 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 (any free one) to 65535, not {text!r}")
    return port


def counting(what: str):
    """An argument type for a whole number of ``what``, at least 1."""

    def count(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = 0
        if number < 1:
            raise argparse.ArgumentTypeError(f"a number of {what} (>= 1), not {text!r}")
        return number

    return count


worker_count = counting("processes")


def probability(text: str) -> float:
    """A probability, 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a probability (0 to 1), not {text!r}")
    return value


def check_listening(host: str, port: int) -> None:
    """ValueError, before any work, when the server could not listen on ``host:port``:
    a name that does not resolve, or a port another program holds."""
    import errno
    import socket

    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as error:
        raise ValueError(f"cannot listen on --host {host}: "
                         f"{getattr(error, 'strerror', None) or error}") from None
    family, kind, protocol, _, address = found[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as error:
            held = error.errno == errno.EADDRINUSE
            raise ValueError(f"cannot listen on {host}:{port}: {error.strerror or error}"
                             + (" (another program holds the port: pick another with --port, "
                                "or 0 for any free one)" if held else "")) from None
