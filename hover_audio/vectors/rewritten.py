"""Vectors kept across a rewrite that leaves a file's audio as it was (tags written into it).

The vector cache is keyed by a file's bytes, and writing tags changes them: without
this, every file a ``tag`` run wrote would be decoded and vectorized again the next
time it is met (the next ``tag`` run's check for changed audio, ``serve`` on its
folder, a notebook's ``vectorize``). The writer knows the audio is untouched
(:mod:`hover_audio.audio.file_tags` copies the audio data byte for byte), so it says
so here, and what the cache holds for the old content is stored under the new as well.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..common.paths import default_cache_dir
from .content import read_hashed


class SameAudio:
    """Files rewritten with their audio untouched, told to the vector cache in ``cache_dir``.

    Call :meth:`before` just before a file is rewritten: its content hash, read from
    its bytes when the cache has hashed the file before (one the cache never hashed,
    or that changed since, is not read: it has no vectors to carry). Call :meth:`after` once it is rewritten: it is
    read and hashed again. :meth:`save` then stores, in one transaction, every
    vector of the old contents (any vectorizer, range or channel) under the new ones.
    The cache never stops the writer: a cache that cannot be read or written gives a
    warning, and the files are vectorized again when next met. ``cache_dir`` None:
    the default cache; a folder without a cache, or ``enabled=False``: nothing to do.

    Examples
    --------
    >>> kept = SameAudio("/nonexistent/cache")
    >>> kept.before("a.wav"); kept.after("a.wav"); kept.save()
    0
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, *, enabled: bool = True):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.enabled = enabled
        self._cache = None if enabled else False
        self._old: dict[str, str] = {}
        self._pairs: list[tuple[str, str]] = []
        self._memos: list[tuple] = []

    def _opened(self):
        from .cache import DB_NAME, VectorCache

        if self._cache is None and (self.cache_dir / DB_NAME).is_file():
            try:
                self._cache = VectorCache(self.cache_dir)
            except Exception as error:  # (VectorCache warns of a damaged file itself)
                self._warn(error)
                self._cache = False
        return self._cache if self._cache is not False else None  # (not `or`: it has a len)

    def before(self, path: str | os.PathLike) -> None:
        """Note the memoized content hash of ``path``, about to be rewritten."""
        cache = self._opened()
        if cache is None:
            return
        absolute = os.path.abspath(path)
        try:
            known = cache.known_hashes([absolute])
        except Exception as error:
            self._warn(error)
            return
        if absolute not in known:  # never hashed here: no vectors to carry
            return
        try:  # the bytes themselves: a memo matched by size and time alone may be stale
            self._old[absolute] = read_hashed(absolute)[0]  # (audio replaced, times kept)
        except OSError:
            return

    def after(self, path: str | os.PathLike) -> None:
        """Hash ``path`` again, rewritten since :meth:`before` with the same audio."""
        absolute = os.path.abspath(path)
        old = self._old.pop(absolute, None)
        if old is None:
            return
        try:
            new, memo, _ = read_hashed(absolute)
        except OSError:  # gone since: nothing to carry
            return
        if memo is not None:  # (None: it changed while it was read)
            self._pairs.append((old, new))
            self._memos.append(memo)

    def save(self) -> int:
        """Store the vectors of the files rewritten so far under their new contents;
        returns how many vectors were stored."""
        pairs, memos, self._pairs, self._memos = self._pairs, self._memos, [], []
        cache = self._opened() if pairs else None
        if cache is None:
            return 0
        try:
            return cache.carry_over(pairs, memos)
        except Exception as error:
            self._warn(error)
            return 0

    def _warn(self, error: Exception) -> None:
        warnings.warn(f"the vector cache in {self.cache_dir} could not keep the vectors of "
                      f"files whose tags were written ({error}); they will be vectorized "
                      "again when next met", RuntimeWarning, stacklevel=3)
