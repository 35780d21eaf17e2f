"""Layer 2, vectors: clip keys -> float32 vectors, cached on disk by content.

- ``contract``: what a vectorizer is (:class:`Vectorizer`), the base for your own
  (:class:`AudioVectorizer`) and the adapter for plain callables.
- ``mfcc``: the default vectorizer, MFCC statistics.
- ``cache``: the SQLite vector cache, keyed by content hash and ``fingerprint``.
- ``jobs``: one clip's work; ``runners``: where jobs run (this process, worker
  processes, Dask); ``batch``: a batch of keys -> ``(matrix, report)``.

Uses the audio layer; knows nothing of tables, maps or labels.
"""
from __future__ import annotations

from .contract import AudioVectorizer, CallableVectorizer, Vectorizer, as_vectorizer
from .mfcc import MFCCVectorizer

__all__ = ["AudioVectorizer", "CallableVectorizer", "MFCCVectorizer", "Vectorizer",
           "as_vectorizer", "default_vectorizer"]


def default_vectorizer() -> Vectorizer:
    """The vectorizer used when none is given: :class:`MFCCVectorizer` with its defaults."""
    return MFCCVectorizer()
