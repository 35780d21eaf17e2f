"""Writing files so that readers see either the old one or the new one, never half."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable


class LockBusy(Exception):
    """Another process holds the lock; ``owner`` is the pid it wrote (or "unknown")."""

    def __init__(self, owner: str):
        super().__init__(owner)
        self.owner = owner


def hold_lock(path: str | os.PathLike) -> IO | None:
    """Take the exclusive advisory lock of the file ``path`` (made if missing) and write
    this process's pid in it; the lock lasts while the returned handle is open, and the
    system releases it when the process ends, however it ends. None where files have no
    advisory lock (Windows).

    Raises
    ------
    LockBusy
        When another process holds it.
    OSError
        When the file cannot be opened.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock
        return None
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise LockBusy(owner) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], *,
                 prefix: str | None = None, suffix: str = ".tmp") -> None:
    """Call ``write(tmp_path)`` then move the result over ``path`` in one step.

    The temporary file lives beside ``path`` (same file system), is flushed to
    disk before the rename, and the folder entry is flushed after it, so a crash
    leaves either the old file or the new one. The file gets the permissions of the
    one it replaces, or those a new file gets here (the umask's), not the private
    ones of a temporary file. Its name is ``prefix`` (default ``.NAME.``), random
    characters and ``suffix``.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}." if prefix is None else prefix,
                                   suffix=suffix, dir=path.parent)
    os.close(handle)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def _umask() -> int:
    """This process's umask: from /proc where Linux shows it, else by setting it and
    putting it back (a moment in which another thread's new file would get 022)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where the platform allows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def save_npy(path: str | os.PathLike, array) -> None:
    """Write ``array`` as float32 ``.npy`` to ``path`` (use inside :func:`atomic_write`)."""
    import numpy as np

    with open(path, "wb") as handle:
        np.save(handle, np.asarray(array, dtype=np.float32))
