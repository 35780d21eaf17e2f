"""On-disk store of feature vectors, keyed by audio content and vectorizer parameters.

Vectors live in one SQLite database, ``<cache_dir>/vectors.sqlite3``, in WAL mode so
that several processes can read and write at once (large batches also leave a
snapshot: ``snapshot.py``). A *namespace* (the vectorizer's fingerprint) separates
vectors computed with different parameters. A vector may come with a *note*, ``(kind,
text)``: what its clip's decoding said that is no failure (a file cut short, silence;
the text leaves the clip's key out), stored and read with the vector. Every write is
one committed transaction; a damaged database is moved aside and replaced by an
empty one, with a warning, never an error (tables and older layouts:
``cache_schema.py``; damage: ``cache_file.py``).
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..common.paths import default_cache_dir
from . import snapshot
from .cache_file import (CONFIRM_S, LIVE_LOCK, damaged_file, file_identity, is_corrupt,
                         move_aside, track)
from .cache_schema import connect, copy_content, select_in, transaction
from .content import read_hashed

DB_NAME = "vectors.sqlite3"
_DTYPE = np.dtype("<f4")
_VECTORS = "SELECT key, dim, data FROM vector_rows WHERE namespace = ?"
_NOTES = "SELECT key, kind, message FROM vector_notes WHERE namespace = ?"
# Connections inherited through fork() must never be used or closed by the child;
# keeping a reference here stops the garbage collector from closing them.
_INHERITED: list[sqlite3.Connection] = []


class CacheDirError(OSError):
    """The cache folder cannot be created or written."""


class CacheCorruptedWarning(RuntimeWarning):
    """A damaged cache database was moved aside and replaced by an empty one."""


def _to_blob(vector: np.ndarray) -> tuple[int, bytes]:
    """Return ``(dim, float32 bytes)`` of a 1-D vector."""
    array = np.ascontiguousarray(vector, dtype=_DTYPE)
    if array.ndim != 1:
        raise ValueError(f"a cached vector must be 1-D, got shape {array.shape}")
    return array.shape[0], array.tobytes()


def _from_blob(dim: int, data: bytes) -> np.ndarray | None:
    """Return the vector stored in ``data``, or None if its length does not match ``dim``."""
    if dim < 0 or len(data) != dim * _DTYPE.itemsize:
        return None
    return np.frombuffer(data, dtype=_DTYPE).copy()


class VectorCache:
    """Vectors of one namespace in ``<cache_dir>/vectors.sqlite3``.

    Parameters
    ----------
    cache_dir
        Folder of the database, created when missing; defaults to `default_cache_dir`.
    namespace
        Fingerprint of the vectorizer and its parameters; namespaces never mix.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, namespace: str = "default"):
        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.cache_dir = folder.expanduser().absolute()
        self.namespace = str(namespace)
        self.path = self.cache_dir / DB_NAME
        self._con: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._lock = threading.RLock()
        self._identity: tuple | None = None  # the database file the connection has open
        track(self)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheDirError(f"cannot create the vector cache folder {self.cache_dir}: {exc}") from exc
        if not os.access(self.cache_dir, os.W_OK | os.X_OK):
            raise CacheDirError(f"the vector cache folder {self.cache_dir} is not writable")
        try:
            self._connection()
        except sqlite3.Error as exc:
            raise CacheDirError(f"cannot open the vector cache in {self.cache_dir}: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        with LIVE_LOCK:  # no header read of this process's closes a descriptor meanwhile
            damaged = damaged_file(self.path)
            if damaged is not None:
                self._move_aside("its header is invalid or the file is truncated", damaged)
            before = file_identity(self.path)
            try:
                con = connect(self.path)
            except sqlite3.DatabaseError as exc:
                if not is_corrupt(exc):
                    raise
                if self._still_damaged():  # else a moment's misreading: the file is whole
                    self._move_aside(str(exc), before or file_identity(self.path))
                    before = None
                con = connect(self.path)
        self._identity = before or file_identity(self.path)
        return con

    def _close(self) -> None:
        if self._con is not None:
            self._con.close()
        self._con = None

    def _check_pid(self) -> None:
        """In a forked child, forget (but never use or close) the parent's connection and lock."""
        if self._pid != os.getpid():
            if self._con is not None:
                _INHERITED.append(self._con)
            self._con, self._pid, self._lock = None, os.getpid(), threading.RLock()

    def _connection(self) -> sqlite3.Connection:
        self._check_pid()
        if self._con is None:
            with LIVE_LOCK:  # counted as open before any other header read of this process
                self._con = self._open()
        return self._con

    def _move_aside(self, reason: str, identity: tuple | None) -> None:
        """Close, then rename the damaged database file ``identity`` (and its -wal/-shm) and
        warn; when another process has moved it aside already, only reconnect (it warned)."""
        self._close()
        target = move_aside(self.path, identity)
        if target is not None:
            warnings.warn(f"vector cache {self.path} is damaged ({reason}); moved it to {target}"
                          " and started an empty cache", CacheCorruptedWarning, stacklevel=4)

    def _run(self, action: Callable[[sqlite3.Connection], object]) -> object:
        """Run ``action(connection)``; on corruption, start a fresh database and run it again."""
        self._check_pid()
        with self._lock:
            try:
                return action(self._connection())
            except sqlite3.DatabaseError as exc:
                if not is_corrupt(exc):
                    raise
                self._close()
                if self._still_damaged():
                    self._move_aside(str(exc), self._identity)
                return action(self._connection())

    def _still_damaged(self) -> bool:
        """Whether SQLite still finds the database damaged when asked again (``PRAGMA
        quick_check`` on connections of its own, after 0.05, 0.2 and 0.8 s). Opened while
        another process closed or checkpointed it, SQLite now and then calls a whole
        database malformed (1 in ~200,000 opens under such churn, once for as long as
        50 ms; the file then passed integrity_check): moving it aside emptied the cache."""
        for wait in (CONFIRM_S, 4 * CONFIRM_S, 16 * CONFIRM_S):
            time.sleep(wait)
            with LIVE_LOCK:
                try:
                    con = connect(self.path)
                except sqlite3.DatabaseError as exc:
                    if is_corrupt(exc):
                        continue
                    raise
                try:
                    if con.execute("PRAGMA quick_check").fetchone()[0] == "ok":
                        return False
                except sqlite3.DatabaseError as exc:
                    if not is_corrupt(exc):
                        raise
                finally:
                    con.close()
        return True

    def _write(self, *statements: tuple[str, list]) -> None:
        """Run each ``(sql, rows)`` for all its rows, in one committed transaction."""
        def write(con: sqlite3.Connection) -> None:
            with transaction(con):
                for sql, rows in statements:
                    con.executemany(sql, rows)

        self._run(write)

    def file_hash(self, path: str | os.PathLike) -> str:
        """Return the content hash of a local file, memoized by (path, size, mtime_ns)."""
        value, memo = self.hash_file(path)
        if memo is not None:
            self.store([], [memo])
        return value

    def hash_file(self, path: str | os.PathLike) -> tuple[str, tuple | None]:
        """``(hash, memo row to store)`` of a local file; the row is None when memoized.

        The row is also None when the file changed while it was read (nothing to memoize).
        """
        path = os.path.abspath(os.fspath(path))
        before = os.stat(path)
        row = self._run(lambda con: con.execute(
            "SELECT size, mtime_ns, hash FROM file_digests WHERE path = ?", (path,)).fetchone())
        if row and row[0] == before.st_size and row[1] == before.st_mtime_ns:
            return row[2], None
        digest, memo, _ = read_hashed(path, (before.st_size, before.st_mtime_ns))
        return digest, memo

    def store(self, items: Iterable[tuple[str, np.ndarray]], memos: Sequence[tuple] = (),
              notes: Iterable[tuple[str, str, str]] = ()) -> None:
        """Store ``(key, vector)`` pairs, :meth:`hash_file` memo rows and the vectors' notes,
        ``(key, kind, text)``, in one transaction; a vector stored without a note loses
        the one stored with it before."""
        rows = [(self.namespace, str(key), *_to_blob(vector)) for key, vector in items]
        notes = [(self.namespace, str(key), str(kind), str(text)) for key, kind, text in notes]
        memos = list(memos)
        if not rows and not memos and not notes:
            return
        noted = {note[1] for note in notes}
        plain = [(self.namespace, row[1]) for row in rows if row[1] not in noted]
        self._write(("INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?)", memos),
                    ("INSERT OR REPLACE INTO vector_rows VALUES (?, ?, ?, ?)", rows),
                    ("DELETE FROM vector_notes WHERE namespace = ? AND key = ?", plain),
                    ("INSERT OR REPLACE INTO vector_notes VALUES (?, ?, ?, ?)", notes))

    def carry_over(self, pairs: Sequence[tuple[str, str]], memos: Sequence[tuple] = ()) -> int:
        """Store the vectors of every namespace kept under content ``old`` under ``new`` too,
        for ``(old, new)`` hashes of files rewritten with their audio untouched, and the
        files' :meth:`hash_file` memo rows; returns the vectors stored (see
        :func:`~hover_audio.vectors.cache_schema.copy_content`)."""
        return self._run(lambda con: copy_content(con, list(pairs), list(memos)))

    def has_notes(self) -> bool:
        """Whether any vector of this namespace was stored with a note."""
        return self._run(lambda con: con.execute(
            "SELECT 1 FROM vector_notes WHERE namespace = ? LIMIT 1", (self.namespace,)
        ).fetchone()) is not None

    def known_hashes(self, paths: Sequence[str], states: dict | None = None) -> dict[str, str]:
        """Memoized content hashes of local files that did not change since, in bulk.

        Files never hashed, changed (size or mtime) or missing are left out; no
        file is read. Keys of the result are the paths as given. ``states``:
        ``{absolute path: (size, mtime_ns)}`` just looked at; other files are looked at once.
        """
        stats, states = {}, dict(states or {})
        for given in paths:
            absolute = given if os.path.isabs(given) else os.path.abspath(given)
            if absolute not in states:
                try:
                    info = os.stat(given)
                except OSError:
                    continue
                states[absolute] = (info.st_size, info.st_mtime_ns)
            stats.setdefault(absolute, (given, *states[absolute]))
        rows = self._run(lambda con: select_in(
            con, "SELECT path, size, mtime_ns, hash FROM file_digests", "path", list(stats),
            wanted=stats))
        known = {}
        for path, size, mtime_ns, value in rows:
            given, now_size, now_mtime = stats.get(path, (None, -1, -1))
            if (size, mtime_ns) == (now_size, now_mtime):
                known[given] = value
        return known

    def _read(self, keys: list, with_notes: bool, wanted: dict | None = None) -> tuple[list, dict]:
        """The vector rows ``(key, dim, data)`` of ``keys`` and, ``with_notes``, their notes
        ``{key: (kind, text)}``, read in one transaction (a vector and its note as stored)."""
        params = (self.namespace,)

        def read(con: sqlite3.Connection) -> tuple[list, dict]:
            if not with_notes:
                return select_in(con, _VECTORS, "key", keys, params, wanted), {}
            with transaction(con, "BEGIN"):
                rows = select_in(con, _VECTORS, "key", keys, params, wanted)
                notes = select_in(con, _NOTES, "key", keys, params, wanted) if rows else []
            return rows, {key: (kind, text) for key, kind, text in notes}

        return self._run(read)

    def get(self, key: str) -> np.ndarray | None:
        """Return the vector stored under ``key``, or None."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Sequence[str], *, with_notes: bool = False):
        """Return ``{key: vector}`` for the keys found; missing keys are left out.

        ``with_notes``: ``(vectors, notes)``, ``notes`` being ``{key: (kind, text)}`` of
        the vectors found that were stored with a note.
        """
        wanted = list(dict.fromkeys(keys))
        rows, notes = self._read(wanted, with_notes)
        found, bad = {}, []
        for key, dim, data in rows:
            vector = _from_blob(dim, data)
            if vector is None:
                bad.append((self.namespace, key))
            else:
                found[key] = vector
        if bad:  # (unless another process stored a good vector meanwhile)
            self._write(("DELETE FROM vector_rows WHERE namespace = ? AND key = ? AND"
                         f" (dim < 0 OR length(data) != dim * {_DTYPE.itemsize})", bad))
        if not with_notes:
            return found
        return found, {key: note for key, note in notes.items() if key in found}

    def get_matrix(self, keys: Sequence[str], dim: int, *, with_notes: bool = False):
        """Vectors of ``keys`` as one ``(len(keys), dim)`` float32 matrix, in bulk.

        Returns ``(found, matrix)``: a boolean mask of the keys found and the
        matrix, NaN in the rows not found (or stored with another length);
        ``with_notes``: ``(found, matrix, notes)``, ``notes`` being ``{key: (kind, text)}``
        of the keys found that were stored with a note.
        """
        position = {key: at for at, key in enumerate(keys)}
        rows, notes = self._read(list(position), with_notes, position)
        good = [(position[key], data) for key, stored_dim, data in rows
                if stored_dim == dim and len(data) == dim * _DTYPE.itemsize]
        found = np.zeros(len(keys), dtype=bool)
        matrix = np.full((len(keys), dim), np.nan, dtype=np.float32)
        if good:
            at = np.fromiter((row for row, _ in good), dtype=np.int64, count=len(good))
            block = np.frombuffer(b"".join(data for _, data in good), dtype=_DTYPE)
            matrix[at] = block.reshape(len(good), dim)
            found[at] = True
        if not with_notes:
            return found, matrix
        return found, matrix, {key: note for key, note in notes.items() if found[position[key]]}

    def put(self, key: str, vector: np.ndarray) -> None:
        """Store ``vector`` (as float32) under ``key``; committed before returning."""
        self.put_many([(key, vector)])

    def put_many(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        """Store many ``(key, vector)`` pairs in one transaction."""
        self.store(items)

    def __len__(self) -> int:
        return self._run(lambda con: con.execute("SELECT count(*) FROM vector_rows WHERE"
                                                 " namespace = ?", (self.namespace,)).fetchone()[0])

    def clear(self) -> None:
        """Delete every vector of this namespace, their notes (and its snapshots, see
        ``snapshot.py``)."""
        namespace = [(self.namespace,)]
        self._write(("DELETE FROM vector_rows WHERE namespace = ?", namespace),
                    ("DELETE FROM vector_notes WHERE namespace = ?", namespace))
        snapshot.remove_namespace(self.cache_dir, self.namespace)

    def close(self) -> None:
        """Close this process's connection; the cache reopens it on next use."""
        self._check_pid()
        with self._lock:
            self._close()

    def __getstate__(self) -> dict:  # paths and names only: each process opens its own connection
        return {"cache_dir": self.cache_dir, "namespace": self.namespace, "path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._con, self._pid, self._lock, self._identity = None, None, threading.RLock(), None
        track(self)

    def __repr__(self) -> str:
        return f"VectorCache({str(self.cache_dir)!r}, namespace={self.namespace!r})"
