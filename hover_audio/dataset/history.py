"""Undo/redo of label operations and the append-only journal that makes them durable.

An *operation* is a list of changes; a change sets one column of some rows to one
new value and remembers each row's old value, so it can be undone. The journal is
a file of self-checking JSON lines: one line per ``do``, ``undo`` or ``redo``, each
carrying the changes it made, written and flushed to disk before the call that made
it returns. Replaying the journal on top of a snapshot rebuilds both the table and
the undo/redo stacks; a damaged line costs only its own operation.
"""
from __future__ import annotations

import json
import os
import time
import warnings
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

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


@dataclass(frozen=True)
class RowChange:
    """Take whole rows out (``removed``) and put others in (``added``); undone the other way.

    Each row is a record: every column's value (JSON types, None for missing) and,
    under :data:`VECTOR`, its vector (a list of floats, or None), so replaying the
    journal restores the rows and their vectors without recomputing anything.
    """

    removed: tuple
    added: tuple
    column = "rows"  # what a ChangeEvent names for it

    def to_json(self) -> dict:
        return {"rows": {"removed": list(self.removed), "added": list(self.added)}}

    @classmethod
    def from_json(cls, data: dict) -> "RowChange":
        rows = data["rows"]
        return cls(tuple(rows["removed"]), tuple(rows["added"]))


def changed_rows(op, touched: int) -> int:
    """How many rows ``op`` changed, ``touched`` being the positions it changed: those,
    when it only changes values; with rows taken out or put in (every later row moves),
    the rows whose values changed plus, per :class:`RowChange`, the larger of its rows
    out and rows in (a split: 2, a moved range: 1)."""
    rows = [change for change in op if isinstance(change, RowChange)]
    if not rows:
        return touched
    keys = {key for change in op if not isinstance(change, RowChange) for key in change.keys}
    return len(keys) + sum(max(len(change.removed), len(change.added)) for change in rows)


VECTOR = "__vector__"  # the key of a row record's vector
Operation = tuple  # a tuple of Change and RowChange


def operation_to_json(op: Operation) -> list:
    return [change.to_json() for change in op]


def operation_from_json(data: list) -> Operation:
    return tuple(RowChange.from_json(item) if "rows" in item else Change.from_json(item)
                 for item in data)


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


class JournalRead(NamedTuple):
    """What a journal holds: its intact entries, and the lines that were not."""

    entries: list
    damaged: list  # line numbers (1-based) whose entry failed its check
    torn: bool  # the last line was cut short (never acknowledged)


class Journal:
    """An append-only file of operations, one self-checking line each, durable line by line.

    A line is ``<crc32 of the JSON, 8 hex digits> <JSON entry>``: an entry damaged
    on disk (a bad sector, a stray edit) fails its check and is skipped on its own,
    while every intact entry before and after it is still read. Lines written by
    earlier versions (plain JSON) are read too.
    """

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
        self._file.write(encode_line(entry))
        self._file.flush()
        os.fsync(self._file.fileno())

    def read(self) -> JournalRead:
        """Every intact entry in order, and where the journal was damaged."""
        if not self.path.exists():
            return JournalRead([], [], False)
        with open(self.path, "rb") as handle:
            lines = handle.read().split(b"\n")
        complete, tail = lines[:-1], lines[-1]
        entries, damaged = [], []
        for number, raw in enumerate(complete, start=1):
            if not raw.strip():
                continue
            entry = decode_line(raw)
            if entry is None:
                damaged.append(number)
            else:
                entries.append(entry)
        return JournalRead(entries, damaged, bool(tail.strip()))

    def entries(self) -> Iterator[dict]:
        """Yield the intact entries in order, warning about damaged and torn lines."""
        found = self.read()
        if found.damaged:
            warnings.warn(f"{self.path}: {len(found.damaged)} damaged line(s) skipped "
                          f"(line {', '.join(map(str, found.damaged[:10]))}); every intact "
                          "operation before and after them was restored", stacklevel=2)
        if found.torn:
            warnings.warn(f"{self.path}: ignoring an incomplete last line "
                          "(an operation interrupted before it was acknowledged)", stacklevel=2)
        yield from found.entries


def encode_line(entry: dict) -> str:
    """One journal line: the entry's JSON behind its CRC-32, and a newline."""
    text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    return f"{zlib.crc32(text.encode('utf-8')):08x} {text}\n"


def decode_line(raw: bytes) -> dict | None:
    """The entry of one journal line, or None when it is damaged."""
    raw = raw.rstrip(b"\r")
    if raw[:1] == b"{":  # written before lines carried a checksum
        text = raw
    else:
        check, _, text = raw.partition(b" ")
        try:
            if int(check, 16) != zlib.crc32(text) or len(check) != 8:
                return None
        except ValueError:
            return None
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("seq"), int) else None


def replay(entries: Iterator[dict], history: History, apply, after: int = 0) -> int:
    """Re-apply journal ``entries`` numbered above ``after``; returns the last number.

    ``apply(op, forward)`` changes the table; ``history`` is rebuilt alongside,
    so undo and redo work after a reload as they did before it. An entry seen
    twice (a number not above the last) is skipped. An ``undo``/``redo`` entry
    carries its changes: when the stacks disagree with it (an entry before it was
    lost to damage), its own changes are applied and the stacks left alone.
    """
    last = after
    for entry in entries:
        seq = int(entry.get("seq", 0))
        if seq <= last:
            continue  # already in the snapshot, or a duplicate line
        kind = entry.get("op")
        recorded = operation_from_json(entry["changes"]) if "changes" in entry else None
        if kind == "do" and recorded is not None:
            apply(recorded, True)
            history.record(recorded)
        elif kind in ("undo", "redo"):
            stack = history.undo_stack if kind == "undo" else history.redo_stack
            if stack and (recorded is None or stack[-1] == recorded):
                op = history.pop_undo() if kind == "undo" else history.pop_redo()
            else:
                op = recorded
            if op is not None:
                apply(op, kind == "redo")
        last = seq
    return last


@dataclass(frozen=True)
class ChangeEvent:
    """What an operation changed: row positions (in ``to_pandas()`` order) and columns."""

    positions: np.ndarray
    columns: tuple
    kind: str  # "do", "undo", "redo", "layout" (new coordinates) or "derived" (predictions)
