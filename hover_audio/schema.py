"""Column names, subsets and the validation of a clip table.

Every part of hover-audio speaks about one table with one row per clip. This
module names its required columns and checks a table at the edge, so that the
rest of the code can trust it.
"""
from __future__ import annotations

import math
from typing import Iterable

ABSTAIN = "ABSTAIN"
AUDIO = "audio"
LABEL = "label"
SUBSET = "SUBSET"
SUBSETS = ("raw", "train", "dev", "test")
# dedup priority: a key found in several subsets is kept in the highest one
SUBSET_PRIORITY = {"raw": 0, "train": 1, "dev": 2, "test": 3}
REQUIRED_COLUMNS = (AUDIO, LABEL, SUBSET)
MAX_REPORTED = 10


def is_missing(value) -> bool:
    """Return True for None, pandas.NA and float NaN (pandas' missing markers)."""
    if value is None or type(value).__name__ == "NAType":
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:  # pragma: no cover - exotic objects
        return False


def format_number(value: float) -> str:
    """Shortest exact text of a float, without a trailing '.0' (``1.5``, ``2``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def clip_id(audio: str, start=None, end=None) -> str:
    """The identity of a clip: its key, plus a ``#t=`` range from start/end columns.

    A key that already carries a media fragment is its own identity; a key whose
    range lives in separate ``start``/``end`` columns gets the fragment appended,
    so two ranges of one file are two clips.
    """
    if "#t=" in audio or (is_missing(start) and is_missing(end)):
        return audio
    begin = "" if is_missing(start) else format_number(start)
    if is_missing(end):
        return f"{audio}#t={begin}"
    return f"{audio}#t={begin},{format_number(end)}"


def _describe(position: int, index_label) -> str:
    if index_label == position:
        return f"row {position}"
    return f"row {position} (index {index_label!r})"


def check_values(rows: Iterable[tuple[int, object, object, object, object]]) -> None:
    """Validate (position, index_label, key, label, subset) tuples.

    Raises
    ------
    ValueError
        Naming up to ten offending rows and what is wrong with each.
    """
    problems = []
    for position, index_label, key, label, subset in rows:
        where = _describe(position, index_label)
        if is_missing(key) or (isinstance(key, str) and not key.strip()):
            problems.append(f"{where}: empty key in column '{AUDIO}' ({key!r})")
        elif not isinstance(key, str):
            problems.append(f"{where}: key must be a string (a path or URL), got {key!r}")
        if is_missing(label):
            problems.append(
                f"{where}: missing label; use '{ABSTAIN}' for clips not labeled yet"
            )
        elif not isinstance(label, str):
            problems.append(
                f"{where}: label must be a string, got {type(label).__name__} {label!r}"
            )
        elif not label.strip():
            problems.append(f"{where}: empty label; use '{ABSTAIN}' for clips not labeled yet")
        if subset not in SUBSET_PRIORITY:
            problems.append(
                f"{where}: unknown subset {subset!r} (expected one of {', '.join(SUBSETS)})"
            )
    if problems:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        suffix = f"\n  ... and {more} more problem(s)" if more else ""
        raise ValueError(
            f"invalid clip table: {len(problems)} problem(s):\n  "
            + "\n  ".join(shown)
            + suffix
        )


def check_label(label) -> str:
    """Validate one label given by a user or the UI and return it."""
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"a label must be a non-empty string, got {label!r}")
    return label


def check_subset(subset) -> str:
    """Validate one subset name and return it."""
    if subset not in SUBSET_PRIORITY:
        raise ValueError(f"unknown subset {subset!r} (expected one of {', '.join(SUBSETS)})")
    return subset
