"""Whether the vector cache's SQLite file is damaged: from an error, or from its header.

``cache.py`` moves a damaged database aside and starts an empty one; these
checks decide when. They never open the file as a database.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path


def is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Tell whether an SQLite error means the database file is damaged."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    message = str(exc).lower()
    return (name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
            or "not a database" in message or "malformed" in message)


def looks_damaged(path: Path) -> bool:
    """Check the header of a closed database file: wrong magic, or shorter than it claims."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size == 0:  # SQLite treats an empty file as a new database
        return False
    with open(path, "rb") as f:
        header = f.read(100)
    if not header.startswith(b"SQLite format 3\x00"[:len(header)]) or (
            len(header) >= 16 and not header.startswith(b"SQLite format 3\x00")):
        return True  # SQLite writes its first page whole: no magic means garbage
    if len(header) < 100 or path.with_name(path.name + "-shm").exists():
        return False  # being written, or open in another process: let SQLite judge
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return False  # committed pages may still live in the WAL; let SQLite judge
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], "big")
    count_is_valid = header[24:28] == header[92:96]
    return count_is_valid and size < page_size * page_count
