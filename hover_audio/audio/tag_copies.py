"""Fields are set on a temporary copy beside a file, which then replaces it in one rename;
copies a killed run left behind are found by their names.

A copy is named ``.NAME.hover-audio-RUN-XXXXXXXX.SUFFIX``: hidden, beside the file (the
same file system, so one rename replaces it), ``RUN`` naming the ``tag`` run (its
manifest's name, which ``untag`` uses too), ``XXXXXXXX`` random. A run killed while
it writes a file (kill -9, a power cut) leaves its copy behind; :func:`leftovers` finds
the copies that name one of a workspace's runs and lie beside a file its manifests
list, and copies of the form used before, ``.NAME.XXXXXXXX.SUFFIX``, beside a file of a
run that never finished. Nothing else is ever taken for a leftover.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Callable, Iterable

from ..common.files import atomic_write
from .tag_containers import TagError

MARK = "hover-audio-"
_NEW = re.compile(r"\.(?P<name>.+)\." + MARK + r"(?P<run>[0-9T]+-[0-9]+)-[a-z0-9_]{8}"
                  r"(?P<suffix>\.[^.]*)?\Z", re.DOTALL)
_NAME_BYTES = 100  # of a file's name in its copy's (names have at most 255 bytes)


def copy_prefix(path: Path, run: str | None) -> str:
    """The start of the name of ``path``'s temporary copy (its random part follows)."""
    return f".{_short(path.name)}.{MARK}" + (f"{run}-" if run else "")


def _short(name: str) -> str:
    return name.encode("utf-8")[:_NAME_BYTES].decode("utf-8", errors="ignore")


def rewrite(path: str | os.PathLike, change: Callable[[Path], None],
            check: Callable[[Path], None] | None = None, run: str | None = None, *,
            copied: bool = True) -> None:
    """Call ``change(copy)`` on a temporary copy of ``path``, then rename it over ``path``.

    ``copied=False``: the copy is not made first; ``change(copy)`` writes all of it
    (from ``path``, in one pass: a large WAV file is then read and written once).

    ``check(copy)``, when given, is called before the rename and raises
    :class:`TagError` to throw the copy away (the file is then untouched). The copy
    gets the file's permissions and times and is flushed to disk before the rename.
    A symbolic link is followed: its target is written, the link stays. A file with
    other hard links is refused (a renamed copy would leave them the old file).
    """
    path = Path(os.path.realpath(path))
    info = path.stat()
    if info.st_nlink > 1:
        raise TagError(f"{path}: has {info.st_nlink} hard links, which a rewritten copy would "
                       "leave with the old file; not written")

    def write(temp: str) -> None:
        if copied:
            shutil.copyfile(path, temp)
        change(Path(temp))
        if check is not None:
            check(Path(temp))
        os.utime(temp, ns=(info.st_atime_ns, info.st_mtime_ns))  # (the file's mode follows)

    try:  # (Ctrl-C too: no copy is left behind)
        atomic_write(path, write, prefix=copy_prefix(path, run), suffix=path.suffix)
    except TagError:
        raise
    except Exception as error:
        raise TagError(f"{path}: cannot write its tags: {type(error).__name__}: {error}") from None


def leftovers(files: Iterable[str], runs: Iterable[str], unfinished: Iterable[str] = ()
              ) -> list[Path]:
    """Temporary copies killed runs left beside ``files``, by their names alone.

    A copy of ``.NAME.hover-audio-RUN-...`` form counts when ``NAME`` is (the start of)
    one of ``files`` in that folder with the same suffix and ``RUN`` is one of ``runs``;
    one of the older ``.NAME.XXXXXXXX.SUFFIX`` form when it is beside one of
    ``unfinished`` (files of a run that never finished). Only regular files count.
    """
    runs = set(runs)
    names: dict[Path, set[str]] = {}
    older: dict[Path, set[str]] = {}
    for group, paths in ((names, files), (older, unfinished)):
        for given in paths:
            real = Path(os.path.realpath(given))
            group.setdefault(real.parent, set()).add(real.name)
    found = []
    for folder in sorted(set(names) | set(older)):
        shorts = {(_short(name), Path(name).suffix) for name in names.get(folder, ())}
        old = [re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}" + re.escape(Path(name).suffix)
                          + r"\Z") for name in older.get(folder, ())]
        try:
            entries = [entry for entry in os.scandir(folder) if entry.name.startswith(".")]
        except OSError:
            continue
        for entry in entries:
            match = _NEW.match(entry.name)
            ours = (match is not None and match["run"] in runs
                    and (match["name"], match["suffix"] or "") in shorts)
            if not ours and not any(pattern.match(entry.name) for pattern in old):
                continue
            try:
                if entry.is_file(follow_symlinks=False):
                    found.append(Path(entry.path))
            except OSError:
                continue
    return found
