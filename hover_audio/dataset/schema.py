"""Column names, subsets and the validation of a clip table.

Every part of hover-audio speaks about one table with one row per clip. This
module names its required columns and checks a table at the edge, so that the
rest of the code can trust it.
"""
from __future__ import annotations

import os
import warnings
from typing import Iterable

import numpy as np
import pandas as pd

from ..audio.key_forms import anchored_keys, canonical_key, is_roundabout, plain_key
from ..audio.sources import SourceError, clip_id, parse_key
from ..common.paths import key_text
from ..common.values import TIME_DIGITS, is_missing

ABSTAIN = "ABSTAIN"
AUDIO = "audio"
LABEL = "label"
SUBSET = "SUBSET"
TRANSCRIPT = "transcript"  # free text per row, changed by operations like labels
TAGS = "tags"  # several tags per row: sorted, ";"-joined text ("" = none); operations only
TAG_SEPARATOR = ";"
SUBSETS = ("raw", "train", "dev", "test")
# dedup priority: a key found in several subsets is kept in the highest one
SUBSET_PRIORITY = {"raw": 0, "train": 1, "dev": 2, "test": 3}
REQUIRED_COLUMNS = (AUDIO, LABEL, SUBSET)
RANGE_COLUMNS = ("start", "end", "channel")  # optional: a range (seconds) and channel of a file
MAX_REPORTED = 10


class DuplicateKeysWarning(UserWarning):
    """Input rows shared a key; all but one of each were dropped by ``dedup()``."""


def warn_about_import(dropped: pd.DataFrame, table: pd.DataFrame | None = None,
                      stacklevel: int = 2) -> None:
    """Warn about rows an import dropped as duplicates, and ABSTAIN rows outside raw of
    ``table`` (None: not looked for)."""
    if len(dropped):
        examples = ", ".join(repr(key) for key in dropped[AUDIO].unique()[:5])
        warnings.warn(f"{len(dropped)} duplicate row(s) dropped (kept by priority "
                      f"test > dev > train > raw, then the later row): {examples}",
                      DuplicateKeysWarning, stacklevel=stacklevel + 1)
    if table is None:
        return
    unlabeled = table[(table[SUBSET] != "raw") & (table[LABEL] == ABSTAIN)]
    if len(unlabeled):
        warnings.warn(f"{len(unlabeled)} row(s) in train/dev/test are {ABSTAIN}, e.g. "
                      f"{unlabeled[AUDIO].iloc[0]!r}; label them or commit them to raw",
                      stacklevel=stacklevel + 1)


def range_columns(table: pd.DataFrame, names=RANGE_COLUMNS) -> dict[str, list | None]:
    """The optional range/channel columns of a table: name -> values (None when absent).

    Examples
    --------
    >>> range_columns(pd.DataFrame({"audio": ["a.wav"], "end": [2.0]}))
    {'start': None, 'end': [2.0], 'channel': None}
    """
    return {name: table[name].tolist() if name in table.columns else None for name in names}


def row_ids(table: pd.DataFrame) -> list[str]:
    """The identity of each row: its key, plus ``#t=`` when ranged by start/end columns."""
    ranges = range_columns(table, ("start", "end"))
    if ranges["start"] is None and ranges["end"] is None:
        return list(table[AUDIO])
    count = len(table)
    starts, ends = ranges["start"] or [None] * count, ranges["end"] or [None] * count
    return [clip_id(*row) for row in zip(table[AUDIO], starts, ends)]


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
            problems.append(f"{where}: key must be a path or URL (a string or a path "
                            f"object), got {key!r}")
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
    _refuse(problems)


def check_ranges(table: pd.DataFrame, index) -> None:
    """Validate the range/channel columns of a normalized table against its keys: each
    value a number, and equal to the key's own ``#t=``/``channel`` fragment if it has one.

    Raises
    ------
    ValueError
        Naming up to ten offending rows (``index``: the input's index labels).
    """
    ranges = range_columns(table)
    if all(values is None for values in ranges.values()):
        return
    count = len(table)
    columns = [values or [None] * count for values in ranges.values()]
    # parse_key checks a row (~3 us); rows of plain numbers and keys without a fragment
    # cannot fail, so only the others are parsed
    keys = table[AUDIO]
    suspect = np.array([not isinstance(key, str) or "#" in key for key in keys], dtype=bool)
    for values in columns:
        column = pd.Series(values, dtype=object)
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        suspect |= ~np.isfinite(numbers) & column.notna().to_numpy()
        suspect |= column.map(lambda value: isinstance(value, bool)).to_numpy(bool)
    problems, index = [], list(index)
    for position in np.flatnonzero(suspect):
        key = keys.iloc[position]
        if isinstance(key, str) and key.strip():  # (bad keys are check_values' to name)
            try:
                parse_key(key, *(values[position] for values in columns))
            except SourceError as error:
                problems.append(f"{_describe(position, index[position])}: {error}")
    _refuse(problems)


def _refuse(problems: list[str]) -> None:
    if problems:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        suffix = f"\n  ... and {more} more problem(s)" if more else ""
        raise ValueError(
            f"invalid clip table: {len(problems)} problem(s):\n  "
            + "\n  ".join(shown)
            + suffix
        )


def key_list(keys) -> list:
    """The keys a caller names rows by, as a list: one key (a string or a path object)
    or an iterable of them; path objects as their paths, as the table holds them.

    Examples
    --------
    >>> from pathlib import Path
    >>> key_list(Path("clips/a.wav")), key_list(["b.wav", Path("c.wav")])
    (['clips/a.wav'], ['b.wav', 'c.wav'])
    """
    if isinstance(keys, (str, os.PathLike)):
        keys = [keys]
    return [key_text(key) for key in keys]


def one_key(key) -> str:
    """The one key a caller names a row or file by (a string or a path object), as text.

    Examples
    --------
    >>> from pathlib import Path
    >>> one_key(Path("clips/a.wav"))
    'clips/a.wav'
    >>> one_key(["a.wav"])
    Traceback (most recent call last):
    TypeError: expected one clip key (a path or URL), got list ['a.wav']
    """
    text = key_text(key)
    if not isinstance(text, str):
        raise TypeError(f"expected one clip key (a path or URL), got {type(key).__name__} "
                        f"{key!r}")
    return text


def check_label(label) -> str:
    """Validate one label given by a user or the UI and return it."""
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"a label must be a non-empty string, got {label!r}")
    return label


def check_subset(subset) -> str:
    """Validate one subset name and return it."""
    if not isinstance(subset, str) or subset not in SUBSET_PRIORITY:  # (a list: unhashable)
        raise ValueError(f"unknown subset {subset!r} (expected one of {', '.join(SUBSETS)})")
    return subset


def normalize_table(df: pd.DataFrame, feature_key: str = AUDIO, label_key: str = LABEL,
                    subset_key: str = SUBSET) -> pd.DataFrame:
    """A validated copy of ``df`` with columns ``audio``, ``label``, ``SUBSET`` first.

    Missing label/subset columns default to ``ABSTAIN``/``raw``; the three
    columns become plain text (a path object as its path, a key with a media fragment
    in its one spelling: :func:`~hover_audio.audio.sources.canonical_key`, a relative
    path that names a file from here as an absolute one, a ``file://`` URL or a path
    with ``..`` as its plain path); other columns keep their
    order and types.
    """
    if feature_key not in df.columns:
        raise ValueError(f"no column {feature_key!r} (the audio key) in {list(df.columns)}")
    table = df.reset_index(drop=True)
    renames = {feature_key: AUDIO, label_key: LABEL, subset_key: SUBSET}
    for source, target in renames.items():
        if source != target and source in table.columns and target in table.columns:
            raise ValueError(f"columns {source!r} and {target!r} would both become {target!r}")
    table = table.rename(columns={k: v for k, v in renames.items() if k in table.columns})
    if LABEL not in table.columns:
        table[LABEL] = ABSTAIN
    if SUBSET not in table.columns:
        table[SUBSET] = "raw"
    rest = [column for column in table.columns if column not in REQUIRED_COLUMNS]
    table = table[list(REQUIRED_COLUMNS) + rest]
    for column in REQUIRED_COLUMNS:  # plain text columns, whatever came in
        dtype = table[column].dtype
        if not pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            table[column] = table[column].astype(object)
    if table[AUDIO].dtype == object:  # path objects (Path.glob's) are keys as their paths
        keys = table[AUDIO].tolist()
        if any(isinstance(key, os.PathLike) for key in keys):
            table[AUDIO] = key_list(keys)
    check_values(
        (position, index_label, key, label, subset)
        for position, (index_label, key, label, subset) in enumerate(
            zip(df.index, table[AUDIO], table[LABEL], table[SUBSET])
        )
    )
    check_ranges(table, df.index)
    # one spelling per clip, times to the millisecond: 'a.wav#t=1.0,2' is 'a.wav#t=1,2'
    fragments = table[AUDIO].map(lambda key: "#" in key).to_numpy(bool)
    if fragments.any():
        keys = table[AUDIO].to_numpy(dtype=object, copy=True)
        problems = []
        for at in np.flatnonzero(fragments):
            try:
                keys[at] = canonical_key(keys[at], strict=True)
            except SourceError as error:  # 'a.wav#t=3,1' or '#t=abc': named now, not later
                problems.append(f"{_describe(at, df.index[at])}: {error}")
        _refuse(problems)
        table[AUDIO] = keys
    # a relative path naming a file here is kept absolute: the dataset then works from
    # any current directory (a lookup by the relative path still finds the row)
    relative = table[AUDIO].map(lambda key: not key.startswith("/") and ":" not in key
                                ).to_numpy(bool)
    if relative.any():
        keys = table[AUDIO].to_numpy(dtype=object, copy=True)
        keys[relative] = anchored_keys(keys[relative], os.getcwd())
        table[AUDIO] = keys
    # 'file:///data/a.wav' and '/data/x/../a.wav' are '/data/a.wav'
    roundabout = table[AUDIO].map(is_roundabout).to_numpy(bool)
    if roundabout.any():
        keys = table[AUDIO].to_numpy(dtype=object, copy=True)
        keys[roundabout] = [plain_key(key) for key in keys[roundabout]]
        table[AUDIO] = keys
    for column in ("start", "end"):  # (checked numbers or missing values)
        if column in table.columns:
            table[column] = pd.to_numeric(table[column]).round(TIME_DIGITS)
    return table


DEDUP_COLUMNS = ["position", AUDIO, SUBSET, LABEL, "kept_subset", "kept_label"]


def dedup_rows(table: pd.DataFrame, ids: pd.Index) -> tuple[np.ndarray, pd.DataFrame]:
    """Which rows to keep, one per identity: test > dev > train > raw, then the later row.

    Returns
    -------
    (keep, dropped)
        Sorted positions to keep, and a report of the dropped rows with the
        subset and label of the row that won over each.
    """
    frame = pd.DataFrame({"id": ids, "priority": table[SUBSET].map(SUBSET_PRIORITY).to_numpy(),
                          "position": np.arange(len(table))})
    ordered = frame.sort_values(["priority", "position"], kind="stable")
    winners = ordered.groupby("id", sort=False).tail(1).set_index("id")["position"]
    keep = np.sort(winners.to_numpy())
    dropped = np.setdiff1d(np.arange(len(table)), keep)
    won = winners.loc[ids[dropped]].to_numpy()
    subsets, labels = table[SUBSET].to_numpy(), table[LABEL].to_numpy()
    report = pd.DataFrame(
        {"position": dropped, AUDIO: ids[dropped], SUBSET: subsets[dropped],
         LABEL: labels[dropped], "kept_subset": subsets[won], "kept_label": labels[won]},
        columns=DEDUP_COLUMNS,
    )
    return keep, report
