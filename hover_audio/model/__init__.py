"""Layer 5, model: a classifier in the loop, and checks of the data.

- ``classifier``: :func:`fit` -> :class:`AudioModel` (predict rows or new files, IBM MAX-style).
- ``quality``: suspect labels (out-of-fold), near-duplicates, outliers, per-row flags.
- ``evaluation``: precision@k, kNN accuracy, the simulated effort of labeling a map.
- ``compare``: every vectorizer and aspect measured on a dataset's labels.

Reads a dataset through its public interface; writes nothing to it (the app
stores predictions and flags with ``set_derived``).
"""
from __future__ import annotations

from .classifier import AudioModel, fit
from .compare import compare
from .quality import flag_columns, label_issues, near_duplicates, outliers

__all__ = ["AudioModel", "compare", "fit", "flag_columns", "label_issues", "near_duplicates",
           "outliers"]
