"""Whether the vector cache's SQLite file is damaged (from an error, or from its header),
and moving a damaged one aside.

``cache.py`` moves a damaged database aside and starts an empty one; these checks
decide when. They never open the file as a database. A file without SQLite's magic
is garbage. A file shorter than its header says is judged only while no connection
has it open: SQLite writes the database file itself only while its ``-shm`` file
exists (a checkpoint, e.g. by the last connection to close, which then removes
``-shm``, then ``-wal``), so a header and size read while neither is there (asked
before and after) are those of a file at rest; read during a checkpoint, the size
lags the header. Damage is seen twice, a moment apart, before it is believed:
another process may open, fill and close a healthy database meanwhile; damage stays.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path

MAGIC = b"SQLite format 3\x00"
CONFIRM_S = 0.05  # between the two looks at a header that seems damaged


def is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Tell whether an SQLite error means the database file is damaged."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    message = str(exc).lower()
    return (name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
            or "not a database" in message or "malformed" in message)


# The caches of this process. Reading a database's header through a file descriptor of
# our own, then closing it, releases every POSIX lock this process's SQLite connections
# hold on that file (SQLite's "How To Corrupt", 2.2): another process's last connection
# then checkpoints and deletes the WAL under them. Weak: a cache dropped unclosed goes.
_CACHES: "weakref.WeakSet" = weakref.WeakSet()
LIVE_LOCK = threading.RLock()  # held from a header read until its connection is made


def track(cache) -> None:
    """Know ``cache`` (its ``path``, ``_con`` and ``_pid``) as one of this process's."""
    with LIVE_LOCK:
        _CACHES.add(cache)


def is_open_here(path: Path) -> bool:
    """Whether a connection of this process has the database at ``path`` open (one
    inherited through fork holds no lock here: POSIX locks are not inherited)."""
    with LIVE_LOCK:
        return any(cache._con is not None and cache._pid == os.getpid() and cache.path == path
                   for cache in list(_CACHES))


def file_identity(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of the file at ``path``: which file it is (None: none there)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def in_use(path: Path) -> bool:
    """Whether a connection may have the database open: its ``-shm`` file exists, or a
    ``-wal`` file with frames in it (committed pages may live there)."""
    if os.path.lexists(f"{path}-shm"):
        return True
    try:
        return os.stat(f"{path}-wal").st_size > 0
    except OSError:  # none (or removed as we looked): no connection left
        return False


def damaged_file(path: Path) -> tuple[int, int] | None:
    """The identity (:func:`file_identity`) of the database file at ``path`` if its header
    shows damage (wrong magic, or shorter than it says while nobody has it open), else None.
    Never read while a connection of this process has it open (see :data:`LIVE_LOCK`:
    hold it until the connection opened after this check is counted).
    """
    if is_open_here(path):
        return None
    first = _judge(path)
    if first is None:
        return None
    time.sleep(CONFIRM_S)
    return first if _judge(path) == first else None


def _judge(path: Path) -> tuple[int, int] | None:
    busy = in_use(path)
    try:
        with open(path, "rb") as f:
            header = f.read(100)
            info = os.fstat(f.fileno())  # after the header: never older than it
    except OSError:  # absent (a new cache), or moved aside by another process
        return None
    identity = info.st_dev, info.st_ino
    if info.st_size == 0:  # SQLite treats an empty file as a new database
        return None
    if header[:len(MAGIC)] != MAGIC[:len(header)]:
        return identity  # SQLite writes its first page whole: no magic means garbage
    if len(header) < 100 or busy or in_use(path):  # (asked again: opened as we read?)
        return None  # being written, or open: its size may lag its header; SQLite judges
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], "big")
    count_is_valid = header[24:28] == header[92:96]
    return identity if count_is_valid and info.st_size < page_size * page_count else None


def move_aside(path: Path, identity: tuple[int, int] | None) -> Path | None:
    """Rename the database at ``path`` (and its ``-wal``/``-shm`` files) to
    ``<name>.corrupt-<time>``, if it is still the file ``identity`` names; return the new
    name. None when it is not: another process moved the damaged file aside first and
    may be using the new one already, which is left alone.
    """
    if identity is None or file_identity(path) != identity:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 10**9:09d}"
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, target)
    except FileNotFoundError:  # another process moved it in the meantime
        return None
    for suffix in ("-wal", "-shm"):
        try:
            os.replace(f"{path}{suffix}", f"{target}{suffix}")
        except FileNotFoundError:
            pass
    return target
