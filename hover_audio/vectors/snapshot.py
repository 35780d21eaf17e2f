"""The last large batches of local clips of a namespace, as columns, for warm loads.

The SQLite cache (``cache.py``) answers any key, but row by row through Python:
about 2.5 s for 100,000 warm vectors (more for ranges, whose keys are parsed).
After a batch of at least :data:`MIN_ROWS` local clips (whole files, ranges and
channels of them; not URLs), each clip's identity, the file it comes from, that
file's size and modification time and the vectors are also written as one index
and one ``.npy`` of vectors (``<cache_dir>/snapshots/``), one snapshot per namespace
and *library*: the folder all of the batch's clips lie under, so two libraries used in
turn each keep theirs (at most :data:`MAX_SNAPSHOTS` per namespace, the least recently
used go first). The next batch of a library reads its snapshot in one go and takes
every clip whose file still has the same size and modification time, the rule the
cache's file-hash memo already uses; each file is looked at once, however many
ranges of it the batch holds. The other clips go through the SQLite cache and the
runners as before.

A clip's identity is its key made absolute, plus its range and channel columns
if the batch has them; a key names the same file every time, so the file is
found by parsing the key only when a snapshot is written, never when one is read.

A snapshot also holds the notes its vectors came with (``(kind, text)``, see
``cache.py``), so that a warm batch reports them as the first one did. It is only
ever a shortcut: a missing, stale or damaged one, or one written before notes were
kept, costs time, never a wrong vector or a lost note (it is ignored and replaced
by the next batch).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import zipfile
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from ..audio.sources import SourceError, local_path, parse_key
from ..common.files import atomic_write
from ..common.values import optional_text

MIN_ROWS = 1000  # smaller batches load from SQLite in well under a second
MAX_SNAPSHOTS = 8  # per namespace: the libraries used most recently keep theirs
FOLDER = "snapshots"
_SEPARATOR = "\0"  # the one character no path (hence no name) can contain
_COLUMN = "\x1f"  # between a key and its range and channel columns in a name


class Rows(NamedTuple):
    """The batch rows a snapshot may hold: local clips, by position and identity."""

    at: np.ndarray  # positions in the batch (int64)
    names: list[str]  # each clip's identity (see the module's docstring)


class Found(NamedTuple):
    """What a snapshot holds of a batch."""

    positions: np.ndarray  # indices into ``Rows`` of the clips found unchanged
    vectors: np.ndarray  # their vectors, one row each
    whole: bool  # every row found, in the snapshot's own order
    states: dict  # file -> (size, mtime_ns) for the files looked at
    notes: dict  # index into ``Rows`` -> (kind, text), of the clips found with a note


def rows(keys: Sequence[str], jobs: Sequence | None = None) -> Rows:
    """The clips of a batch that may come from a snapshot, and their identities.

    ``jobs`` (with ``start``, ``end``, ``channel``) when the batch has range or
    channel columns; None for keys alone. URLs are left out (``http://`` ones are
    not files here; ``file:`` ones are rare and may be relative): the SQLite cache
    still answers for them.
    """
    at, names = [], []
    absolute, is_absolute = os.path.abspath, os.path.isabs
    for position, key in enumerate(keys):
        if "://" in key or key.startswith("file:"):
            continue
        name = key if is_absolute(key) else absolute(key)
        if jobs is not None:
            job = jobs[position]
            if job.start is not None or job.end is not None or job.channel is not None:
                name = _COLUMN.join((name, optional_text(job.start), optional_text(job.end),
                                      optional_text(job.channel)))
        at.append(position)
        names.append(name)
    return Rows(np.asarray(at, dtype=np.int64), names)


def files_of(found_rows: Rows, keys: Sequence[str], jobs: Sequence | None = None) -> list:
    """The absolute path of the file each row's clip comes from (None: not a local file)."""
    paths, files = [], {}  # files: location -> absolute path (many ranges, one file)
    for position, name in zip(found_rows.at, found_rows.names):
        key = keys[position]
        if "#" not in key and _COLUMN not in name:
            paths.append(name)  # a plain path: the name is the file
            continue
        job = None if jobs is None else jobs[position]
        try:
            location = parse_key(key, *((job.start, job.end, job.channel) if job else ())).location
            if location not in files:
                located = local_path(location)
                files[location] = None if located is None else os.path.abspath(located)
        except SourceError:
            paths.append(None)
            continue
        paths.append(files[location])
    return paths


def file_states(paths, known: dict | None = None) -> dict:
    """``{path: (size, mtime_ns)}`` of the distinct regular files in ``paths`` that exist
    (a directory, a pipe or a device has none: no vector is ever read from it).

    ``known`` states (looked at moments ago) are reused, not looked at again.
    """
    states = dict(known or {})
    for path in dict.fromkeys(paths):
        if path is None or path in states:
            continue
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(info.st_mode):
            states[path] = (info.st_size, info.st_mtime_ns)
    return states


def library_of(batch: Rows) -> str:
    """The folder every clip of ``batch`` lies under (the longest common one)."""
    if not batch.names:
        return ""
    return os.path.dirname(os.path.commonprefix([min(batch.names), max(batch.names)]))


def _digest(text: str, size: int) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).hexdigest()


def snapshot_path(cache_dir: str | os.PathLike, namespace: str, library: str = "") -> Path:
    """The index file of ``namespace``'s snapshot of ``library`` under ``cache_dir``.

    The vectors sit beside it in ``<same name>-<token>.npy``, the token being
    written in the index, so a new snapshot replaces the old one in one rename.
    """
    return Path(cache_dir) / FOLDER / f"{_digest(namespace, 16)}-{_digest(library, 8)}.npz"


def _vectors_path(index: Path, token: str) -> Path:
    return index.with_name(f"{index.stem}-{token}.npy")


def _split(blob: np.ndarray) -> list[str]:
    text = bytes(blob).decode("utf-8")
    return text.split(_SEPARATOR) if text else []


def lookup(path: Path, batch: Rows, dim: int) -> Found:
    """The rows of ``batch`` the snapshot at ``path`` holds unchanged, and their vectors.

    A missing snapshot, one of another vector length, or an unreadable one find nothing.
    """
    nothing = Found(np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32),
                    False, {}, {})
    if not batch.names or not path.is_file():
        return nothing
    try:
        with np.load(path, allow_pickle=False) as stored:
            names, files = _split(stored["names"]), _split(stored["files"])
            row_file, sizes, mtimes = stored["row_file"], stored["sizes"], stored["mtimes"]
            token = bytes(stored["token"]).decode("ascii")
            notes = _notes(stored["notes"], len(names))  # (KeyError: written before notes)
        vectors = np.load(_vectors_path(path, token), allow_pickle=False)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError):
        return nothing
    if (vectors.ndim != 2 or vectors.shape[1] != dim or vectors.dtype != np.float32
            or not len(names) == len(row_file) == len(vectors)
            or not len(files) == len(sizes) == len(mtimes)
            or (len(row_file) and not 0 <= row_file.min() <= row_file.max() < len(files))):
        return nothing
    try:  # recently used: the last to be pruned (see ``MAX_SNAPSHOTS``)
        os.utime(path)
    except OSError:
        pass
    same_order = names == batch.names
    if same_order:
        stored_at = np.arange(len(names))
    else:
        index = dict(zip(names, range(len(names))))
        stored_at = np.fromiter((index.get(name, -1) for name in batch.names),
                                dtype=np.int64, count=len(batch.names))
    known = stored_at >= 0
    wanted = np.unique(row_file[stored_at[known]])
    states = file_states(files[i] for i in wanted.tolist())
    now = np.full((len(files), 2), -1, dtype=np.int64)  # files not looked at: changed
    if len(wanted):
        now[wanted] = np.array([states.get(files[i], (-1, -1)) for i in wanted.tolist()],
                               dtype=np.int64).reshape(len(wanted), 2)
    unchanged = (now[:, 0] == sizes) & (now[:, 1] == mtimes)
    same = known.copy()
    same[known] = unchanged[row_file[stored_at[known]]]
    if same_order and same.all():  # the same clips in the same order: no copy
        return Found(np.arange(len(names)), vectors, True, states, notes)
    positions = np.flatnonzero(same)
    if notes:
        noted = np.full(len(names), False)
        noted[list(notes)] = True
        notes = {int(at): notes[int(stored_at[at])]
                 for at in positions[noted[stored_at[positions]]]}
    return Found(positions, vectors[stored_at[positions]], False, states, notes)


def _notes(blob: np.ndarray, count: int) -> dict:
    """``{stored row: (kind, text)}`` from a snapshot's notes (JSON ``[[row, kind, text], ...]``);
    ValueError when they are not that, or name a row the snapshot does not have."""
    entries, notes = json.loads(bytes(blob).decode("utf-8")), {}
    for entry in entries if isinstance(entries, list) else [entries]:
        if not (isinstance(entry, list) and len(entry) == 3 and type(entry[0]) is int
                and 0 <= entry[0] < count and all(isinstance(part, str) for part in entry[1:])):
            raise ValueError(f"not a note: {entry!r}")
        notes[entry[0]] = (entry[1], entry[2])
    return notes


def write(path: Path, batch: Rows, paths: Sequence, states: dict, vectors: np.ndarray,
          notes: dict | None = None) -> None:
    """Replace the snapshot at ``path`` with ``batch``'s clips, their ``vectors`` and
    ``notes`` (``{index into batch: (kind, text)}`` of the vectors that have one).

    ``paths``: each row's file (None: not local); ``states``: each file's size and
    mtime *before* the vectors were computed (a file changed since is then seen as
    changed). Rows without a finite vector or a known file are left out. The
    vectors are written first under a new token, then the index naming it (readers
    see the old snapshot or the new one), then older vector files are removed.
    """
    keep = [i for i, (file, finite) in enumerate(zip(paths, np.isfinite(vectors).all(axis=1)))
            if finite and file is not None and file in states]
    files = list(dict.fromkeys(paths[i] for i in keep))
    number = {file: i for i, file in enumerate(files)}
    names = _SEPARATOR.join(batch.names[i] for i in keep)
    sizes = np.array([states[file][0] for file in files], dtype=np.int64)
    mtimes = np.array([states[file][1] for file in files], dtype=np.int64)
    token = secrets.token_hex(8)
    kept = {at: stored for stored, at in enumerate(keep)} if notes else {}
    noted = json.dumps([[kept[at], *note] for at, note in sorted((notes or {}).items())
                        if at in kept])
    path.parent.mkdir(parents=True, exist_ok=True)

    def blob(text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    def save_vectors(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(vectors[keep], dtype=np.float32))

    def save_index(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, names=blob(names), files=blob(_SEPARATOR.join(files)),
                     row_file=np.array([number[paths[i]] for i in keep], dtype=np.int64),
                     sizes=sizes, mtimes=mtimes, token=blob(token), notes=blob(noted))

    atomic_write(_vectors_path(path, token), save_vectors)
    atomic_write(path, save_index)
    for old in path.parent.glob(f"{path.stem}-*.npy"):
        if old.name != _vectors_path(path, token).name:
            old.unlink(missing_ok=True)
    _prune(path)


def _prune(path: Path) -> None:
    """Keep the :data:`MAX_SNAPSHOTS` most recently used snapshots of ``path``'s namespace."""
    namespace = path.stem.split("-")[0]
    (path.parent / f"{namespace}.npz").unlink(missing_ok=True)  # one per namespace, before
    for legacy in path.parent.glob(f"{namespace}-*.npy"):  # its vectors: <namespace>-<token>
        if legacy.stem.count("-") == 1:
            legacy.unlink(missing_ok=True)
    kept = []
    for index in path.parent.glob(f"{namespace}-*.npz"):
        try:
            kept.append((index.stat().st_mtime_ns, index))
        except OSError:
            continue
    for _, index in sorted(kept, reverse=True)[MAX_SNAPSHOTS:]:
        if index != path:
            remove(index)


def remove(path: Path) -> None:
    """Delete the snapshot at ``path`` (its index and vectors), if there is one."""
    path.unlink(missing_ok=True)
    for old in path.parent.glob(f"{path.stem}-*.npy"):
        old.unlink(missing_ok=True)


def remove_namespace(cache_dir: str | os.PathLike, namespace: str) -> None:
    """Delete every snapshot of ``namespace`` under ``cache_dir``."""
    for found in (Path(cache_dir) / FOLDER).glob(f"{_digest(namespace, 16)}*"):
        found.unlink(missing_ok=True)
