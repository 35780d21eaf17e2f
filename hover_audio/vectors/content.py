"""A clip's content key: the hash of its file's bytes (what the vector cache is keyed by)."""
from __future__ import annotations

import hashlib
import os


def content_hash(data: bytes) -> str:
    """Return the first 32 hex digits of the SHA-256 of ``data`` (with the CPU's SHA
    instructions, twice BLAKE2b's speed: 5.9 vs 11.4 ms for 10 MB here)."""
    return _short(hashlib.sha256(data))


def _short(digest) -> str:
    """A cache key's content part: the first 32 hex digits of a SHA-256 digest."""
    return digest.hexdigest()[:32]


def read_hashed(path: str, state: tuple[int, int] | None = None,
                keep_bytes: int = 0) -> tuple[str, tuple | None, bytes | None]:
    """Read the local file at absolute ``path``: ``(hash, memo row, its bytes or None)``.

    The bytes are kept for a file of at most ``keep_bytes``, so that it can be
    decoded from exactly what was hashed without reading it again. The memo row
    (see :meth:`VectorCache.hash_file`) is None when the file changed while it was
    read. ``state``: its ``(size, mtime_ns)``, if looked at already.
    """
    if state is None:
        info = os.stat(path)
        state = (info.st_size, info.st_mtime_ns)
    digest, data = hashlib.sha256(), None
    with open(path, "rb") as f:
        if state[0] <= keep_bytes:
            data = f.read()
            digest.update(data)
        else:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    value = _short(digest)
    after = os.stat(path)
    if (after.st_size, after.st_mtime_ns) != tuple(state):
        return value, None, data
    return value, (path, *state, value), data
