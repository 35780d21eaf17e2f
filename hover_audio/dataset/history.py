"""Undo/redo of label operations and the append-only journal that makes them durable.

An *operation* is a list of changes; a change sets one column of some rows to one
new value and remembers each row's old value, so it can be undone. The journal is
a JSON-lines file: one line per ``do``, ``undo`` or ``redo``, written and flushed
to disk before the call that made it returns. Replaying the journal on top of a
snapshot rebuilds both the table and the undo/redo stacks.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

DEFAULT_DEPTH = 200


@dataclass(frozen=True)
class Change:
    """Set ``column`` of the rows ``keys`` to ``new``; ``old`` holds their previous values."""

    column: str
    keys: tuple
    old: tuple
    new: object

    def to_json(self) -> dict:
        return {"column": self.column, "keys": list(self.keys), "old": list(self.old), "new": self.new}

    @classmethod
    def from_json(cls, data: dict) -> "Change":
        return cls(data["column"], tuple(data["keys"]), tuple(data["old"]), data["new"])


Operation = tuple  # a tuple of Change


def operation_to_json(op: Operation) -> list:
    return [change.to_json() for change in op]


def operation_from_json(data: list) -> Operation:
    return tuple(Change.from_json(item) for item in data)


@dataclass
class History:
    """Undo and redo stacks of operations, bounded to ``depth`` operations."""

    depth: int = DEFAULT_DEPTH
    undo_stack: deque = field(default_factory=deque)
    redo_stack: deque = field(default_factory=deque)

    def record(self, op: Operation) -> None:
        self.undo_stack.append(op)
        while len(self.undo_stack) > self.depth:
            self.undo_stack.popleft()
        self.redo_stack.clear()

    def pop_undo(self) -> Operation | None:
        if not self.undo_stack:
            return None
        op = self.undo_stack.pop()
        self.redo_stack.append(op)
        return op

    def pop_redo(self) -> Operation | None:
        if not self.redo_stack:
            return None
        op = self.redo_stack.pop()
        self.undo_stack.append(op)
        return op

    def to_json(self) -> dict:
        return {
            "depth": self.depth,
            "undo": [operation_to_json(op) for op in self.undo_stack],
            "redo": [operation_to_json(op) for op in self.redo_stack],
        }

    @classmethod
    def from_json(cls, data: dict | None) -> "History":
        if not data:
            return cls()
        return cls(
            depth=int(data.get("depth", DEFAULT_DEPTH)),
            undo_stack=deque(operation_from_json(op) for op in data.get("undo", [])),
            redo_stack=deque(operation_from_json(op) for op in data.get("redo", [])),
        )


class Journal:
    """An append-only JSON-lines file of operations, durable line by line."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file = None

    def open(self) -> None:
        if self._file is None:
            self._drop_incomplete_tail()
            self._file = open(self.path, "a", encoding="utf-8")

    def _drop_incomplete_tail(self) -> None:
        """Cut a last line left unfinished by a crash, so new lines start clean."""
        if not self.path.exists():
            return
        with open(self.path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def append(self, entry: dict) -> None:
        """Write one entry and force it to disk before returning."""
        self.open()
        entry = dict(entry, t=round(time.time(), 3))
        self._file.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def entries(self) -> Iterator[dict]:
        """Yield the journal's entries in order.

        A last line cut short by a crash is skipped with a warning; a damaged line
        elsewhere stops the replay there (what follows cannot be trusted).
        """
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            lines = handle.read().split(b"\n")
        complete, tail = lines[:-1], lines[-1]
        for number, raw in enumerate(complete, start=1):
            if not raw.strip():
                continue
            try:
                yield json.loads(raw)
            except ValueError:
                warnings.warn(
                    f"{self.path}: line {number} is damaged; "
                    "operations from there on were not restored",
                    stacklevel=2,
                )
                return
        if tail.strip():
            warnings.warn(
                f"{self.path}: ignoring an incomplete last line "
                "(an operation interrupted before it was acknowledged)",
                stacklevel=2,
            )


def replay(entries: Iterator[dict], history: History, apply, after: int = 0) -> int:
    """Re-apply journal ``entries`` numbered above ``after``; returns the last number.

    ``apply(op, forward)`` changes the table; ``history`` is rebuilt alongside,
    so undo and redo work after a reload as they did before it.
    """
    last = after
    for entry in entries:
        seq = int(entry.get("seq", 0))
        if seq <= last:
            continue  # already in the snapshot
        kind = entry.get("op")
        if kind == "do":
            op = operation_from_json(entry["changes"])
            apply(op, True)
            history.record(op)
        elif kind == "undo" and (op := history.pop_undo()) is not None:
            apply(op, False)
        elif kind == "redo" and (op := history.pop_redo()) is not None:
            apply(op, True)
        last = seq
    return last


@dataclass(frozen=True)
class ChangeEvent:
    """What an operation changed: row positions (in ``to_pandas()`` order) and columns."""

    positions: np.ndarray
    columns: tuple
    kind: str  # "do", "undo", "redo", "layout" (new coordinates) or "derived" (predictions)
