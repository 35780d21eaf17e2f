"""The vector cache's tables, what opening the database does to one an older version
left, and the two shapes of its reads and writes (rows by key in bulk, one transaction).

A connection (:func:`connect`) is in WAL mode and finds every table of :data:`TABLES`
there. Opening a cache of an older layout brings it up to date in one write
transaction, once, whichever process opens it first; opening an up-to-date one
takes no write lock at all:

- the WITHOUT ROWID table ``vectors`` (before ``vector_rows``): its rows are moved over
  and it is dropped;
- no ``vector_notes`` (before notes were kept): the table is created; the vectors
  already stored simply have no note. Versions that do not know the table keep
  reading and writing ``vector_rows`` as before.
"""
from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_S = 30.0
_CHUNK = 900  # keys per ``IN (...)`` query, below SQLite's oldest variable limit
_SCAN_ABOVE = 5000  # more keys than this: scan the table instead of probing
TABLES = {
    # a rowid table: rows of 1 KB make a WITHOUT ROWID table (the older "vectors",
    # moved over on opening) 2.7x slower to write and 2.5x slower to read
    "vector_rows": "CREATE TABLE IF NOT EXISTS vector_rows (namespace TEXT NOT NULL,"
                   " key TEXT NOT NULL, dim INTEGER NOT NULL, data BLOB NOT NULL,"
                   " PRIMARY KEY (namespace, key))",
    # what a vector came with (a clip cut short, silent, truncated): at most one note
    # per vector, written in the same transaction as the vector; ``message`` leaves
    # the clip's key out (the same content may lie under several keys)
    "vector_notes": "CREATE TABLE IF NOT EXISTS vector_notes (namespace TEXT NOT NULL,"
                    " key TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,"
                    " PRIMARY KEY (namespace, key)) WITHOUT ROWID",
    # content hashes by SHA-256 (an older BLAKE2b memo, file_hashes, is never read)
    "file_digests": "CREATE TABLE IF NOT EXISTS file_digests (path TEXT NOT NULL PRIMARY KEY,"
                    " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL)",
}
LEGACY_VECTORS = "vectors"  # the WITHOUT ROWID table of vectors before "vector_rows"


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the cache database at ``path`` (created when missing), up to date.

    Raises ``sqlite3.DatabaseError`` as SQLite does (a damaged file among them).
    """
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                          check_same_thread=False)
    try:
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _use_wal(con)
        con.execute("PRAGMA synchronous = NORMAL")
        if _outdated(con):
            _bring_up_to_date(con)
    except BaseException:
        con.close()
        raise
    return con


def _tables(con: sqlite3.Connection) -> set[str]:
    return {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _outdated(con: sqlite3.Connection) -> bool:
    tables = _tables(con)
    return not tables.issuperset(TABLES) or LEGACY_VECTORS in tables


def _bring_up_to_date(con: sqlite3.Connection) -> None:
    """Create the missing tables and move an older layout's vectors over, in one transaction
    (another process doing the same waits for it, then finds nothing left to do)."""
    con.execute("BEGIN IMMEDIATE")  # (on any error, connect() closes: a rollback)
    for statement in TABLES.values():
        con.execute(statement)
    if LEGACY_VECTORS in _tables(con):  # (asked again: inside the write lock)
        con.execute("INSERT OR IGNORE INTO vector_rows (namespace, key, dim, data)"
                    f" SELECT namespace, key, dim, data FROM {LEGACY_VECTORS}")
        con.execute(f"DROP TABLE {LEGACY_VECTORS}")
    con.execute("COMMIT")


def _use_wal(con: sqlite3.Connection) -> None:
    """Switch to WAL mode, waiting while another process creates the same database."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:  # the busy handler does not cover this pragma
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def select_in(con: sqlite3.Connection, select: str, column: str, values: list,
              params: tuple = (), wanted: set | dict | None = None) -> list[tuple]:
    """Rows of ``select`` whose ``column`` is in ``values``.

    Few values: ``IN (...)`` queries; many: one scan, filtered here (a sequential
    read of the table beats thousands of index probes) by ``wanted``, the values as a
    set or dict if the caller has one.
    """
    if len(values) > _SCAN_ABOVE:
        wanted = set(values) if wanted is None else wanted
        return [row for row in con.execute(select, params) if row[0] in wanted]
    rows = []
    joiner = " AND " if " WHERE " in select else " WHERE "
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows += con.execute(f"{select}{joiner}{column} IN ({marks})", [*params, *chunk]).fetchall()
    return rows


@contextmanager
def transaction(con: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE"):
    """One transaction, committed at the end of the block, rolled back on any error."""
    con.execute(begin)
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise


def copy_content(con: sqlite3.Connection, pairs: list[tuple[str, str]], memos: list[tuple]
                 ) -> int:
    """Store every namespace's vectors of content ``old`` again under content ``new`` (its
    ranges and channels too), for each ``(old, new)`` hash pair, with the ``file_digests``
    ``memos``, in one transaction; returns the vectors stored.

    For files whose bytes changed but whose audio did not (tags written into them). A
    vector stored with a note (a file cut short, silence) is left to be made again: what
    its decoding said might have come from the bytes that changed. Keys are
    ``content|start|end|channel``, so one content's keys lie between ``content|`` and
    ``content}`` (``}`` follows ``|``): a range of the primary key's index per namespace.
    """
    copied = 0
    with transaction(con):
        con.executemany("INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?)", memos)
        spaces = [row[0] for row in con.execute("SELECT DISTINCT namespace FROM vector_rows")]
        for old, new in pairs:
            if old == new:
                continue
            for space in spaces:
                copied += con.execute(
                    "INSERT OR IGNORE INTO vector_rows (namespace, key, dim, data)"
                    " SELECT namespace, ? || substr(key, ?), dim, data FROM vector_rows AS v"
                    " WHERE namespace = ? AND key >= ? AND key < ? AND NOT EXISTS (SELECT 1"
                    " FROM vector_notes AS n WHERE n.namespace = v.namespace AND n.key = v.key)",
                    (new, len(old) + 1, space, old + "|", old + "}")).rowcount
    return copied
