"""Argument types the ``hover-audio`` commands share: checked by the parser, so a bad
value is refused (exit 2, with the usage) before any work."""
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
