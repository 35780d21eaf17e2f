"""A namespace's last large batch of local files, as columns in one file, for warm loads.

The SQLite cache (``cache.py``) answers any key, but row by row through Python:
about 2.5 s for 100,000 warm vectors. After a batch of at least
:data:`MIN_ROWS` plain local files (no range, no channel, no URL), their
absolute paths, sizes, modification times and vectors are also written as one
index and one ``.npy`` of vectors per namespace (``<cache_dir>/snapshots/``). The
next batch reads it in one go and takes every row whose file still has the same
size and modification time, the rule the cache's file-hash memo already uses;
the other rows go through the SQLite cache and the runners as before.

A snapshot is only ever a shortcut: a missing, stale or damaged one costs time,
never a wrong vector (a damaged file is ignored and replaced by the next batch).
"""
from __future__ import annotations

import hashlib
import os
import secrets
import zipfile
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from ..common.files import atomic_write

MIN_ROWS = 1000  # smaller batches load from SQLite in well under a second
FOLDER = "snapshots"
_SEPARATOR = "\0"  # the one character no path can contain


class LocalFiles(NamedTuple):
    """The batch rows that are whole local files, with each file's state when looked at."""

    at: np.ndarray  # positions in the batch (int64)
    paths: list[str]  # absolute paths
    sizes: np.ndarray  # int64 bytes
    mtimes: np.ndarray  # int64 nanoseconds


def local_files(keys: Sequence[str], plain: Sequence[bool] | None = None) -> LocalFiles:
    """The keys that name a whole local file by a plain path, and that file's size and time.

    ``plain`` says which keys come without a range or channel (None: all of
    them). Keys with a fragment (``#t=``) or a URL are left out, and so are
    files that cannot be looked at (the batch reports those).
    """
    at, paths, sizes, mtimes = [], [], [], []
    stat, absolute, is_absolute = os.stat, os.path.abspath, os.path.isabs
    for position, key in enumerate(keys):
        if "#" in key or "://" in key or (plain is not None and not plain[position]):
            continue
        path = key if is_absolute(key) else absolute(key)
        try:
            info = stat(path)
        except (OSError, ValueError):
            continue
        at.append(position)
        paths.append(path)
        sizes.append(info.st_size)
        mtimes.append(info.st_mtime_ns)
    return LocalFiles(np.asarray(at, dtype=np.int64), paths,
                      np.asarray(sizes, dtype=np.int64), np.asarray(mtimes, dtype=np.int64))


def snapshot_path(cache_dir: str | os.PathLike, namespace: str) -> Path:
    """The index file of ``namespace``'s snapshot under ``cache_dir``.

    The vectors sit beside it in ``<same name>-<token>.npy``, the token being
    written in the index, so a new snapshot replaces the old one in one rename.
    """
    digest = hashlib.blake2b(namespace.encode("utf-8"), digest_size=16).hexdigest()
    return Path(cache_dir) / FOLDER / f"{digest}.npz"


def _vectors_path(index: Path, token: str) -> Path:
    return index.with_name(f"{index.stem}-{token}.npy")


class Found(NamedTuple):
    """What a snapshot holds of a batch's files."""

    positions: np.ndarray  # rows of ``LocalFiles`` found unchanged
    vectors: np.ndarray  # their vectors, one row each
    whole: bool  # every file found, in the snapshot's own order


def lookup(path: Path, files: LocalFiles, dim: int) -> Found:
    """The rows of ``files`` that the snapshot at ``path`` holds unchanged, and their vectors.

    A missing snapshot, one of another vector length, or an unreadable one find nothing.
    """
    nothing = Found(np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32), False)
    if not files.paths or not path.is_file():
        return nothing
    try:
        with np.load(path, allow_pickle=False) as stored:
            names = bytes(stored["paths"]).decode("utf-8").split(_SEPARATOR)
            sizes, mtimes = stored["sizes"], stored["mtimes"]
            token = bytes(stored["token"]).decode("ascii")
        vectors = np.load(_vectors_path(path, token), allow_pickle=False)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError):
        return nothing
    if (vectors.ndim != 2 or vectors.shape[1] != dim or vectors.dtype != np.float32
            or not len(names) == len(sizes) == len(mtimes) == len(vectors)):
        return nothing
    if names == files.paths:  # the same files in the same order: no lookups, no copy
        same = (sizes == files.sizes) & (mtimes == files.mtimes)
        if same.all():
            return Found(np.arange(len(names)), vectors, True)
        positions = np.flatnonzero(same)
        return Found(positions, vectors[positions], False)
    index = dict(zip(names, range(len(names))))
    stored_at = np.fromiter((index.get(name, -1) for name in files.paths), dtype=np.int64,
                            count=len(files.paths))
    known = stored_at >= 0
    same = known.copy()
    same[known] = ((sizes[stored_at[known]] == files.sizes[known])
                   & (mtimes[stored_at[known]] == files.mtimes[known]))
    positions = np.flatnonzero(same)
    return Found(positions, vectors[stored_at[positions]], False)


def write(path: Path, files: LocalFiles, vectors: np.ndarray) -> None:
    """Replace the snapshot at ``path`` with ``files`` and their ``vectors`` (finite rows only).

    ``vectors`` has one row per file. The vectors are written first under a new
    token, then the index naming it (readers see the old snapshot or the new
    one), then older vector files are removed.
    """
    keep = np.isfinite(vectors).all(axis=1)
    names = _SEPARATOR.join(name for name, kept in zip(files.paths, keep) if kept)
    token = secrets.token_hex(8)
    path.parent.mkdir(parents=True, exist_ok=True)

    def save_vectors(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(vectors[keep], dtype=np.float32))

    def save_index(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, paths=np.frombuffer(names.encode("utf-8"), dtype=np.uint8),
                     sizes=files.sizes[keep], mtimes=files.mtimes[keep],
                     token=np.frombuffer(token.encode("ascii"), dtype=np.uint8))

    atomic_write(_vectors_path(path, token), save_vectors)
    atomic_write(path, save_index)
    for old in path.parent.glob(f"{path.stem}-*.npy"):
        if old.name != _vectors_path(path, token).name:
            old.unlink(missing_ok=True)


def remove(path: Path) -> None:
    """Delete the snapshot at ``path`` (its index and vectors), if there is one."""
    path.unlink(missing_ok=True)
    for old in path.parent.glob(f"{path.stem}-*.npy"):
        old.unlink(missing_ok=True)
