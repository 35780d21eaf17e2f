"""hover's ``dataset.dfs`` over the one clip table: a working copy per subset, edited in
place as in hover, applied by ``synchronize_df_to_dictl()``.

In hover, ``dataset.dfs[subset]`` *is* the data. Here the clip table is the single
source of truth (journaled, undoable, shared with the app), so ``dfs`` hands out a
working copy and ``synchronize_df_to_dictl()`` brings its edits back:

- ``dataset.dfs`` gives the same dict of frames on every access until they are
  synchronized or dropped, so ``ds.dfs["raw"].loc[mask, "label"] = "dog"`` edits a
  frame that is kept. Frames without edits are read again once the dataset changed
  (``set_labels``, the app, ...); frames with edits are kept, with a warning that they
  show the rows as they were.
- ``synchronize_df_to_dictl()`` applies what changed in the frames since they were
  handed out (or last synchronized): labels, and rows moved to another subset's frame
  (hover's commit: a row found in several frames goes to test > dev > train > raw), as
  one operation: journaled, one ``undo()``. Returns how many rows changed. It is
  applied over the dataset as it is now (a row changed both ways takes the frame's value).
- Anything else makes it raise ValueError before anything changes, naming the
  columns and rows: another column's values (each column names what changes it), a new
  column, a row left out of every frame or not in the dataset, a bad label, ``ABSTAIN``
  outside raw. The frames keep their edits: fix them and call it again.
- ``synchronize_dictl_to_df()`` drops the working copy (its unsynchronized edits too,
  with a warning); the next ``dfs`` reads the table again.

Edits never synchronized are never applied: ``save()``, ``close()`` and ``export()``
warn about them (:class:`UnsyncedEditsWarning`). A frame kept in a variable is the
working copy only until the next access to ``dfs`` reads the table again: take
``dataset.dfs`` again after the dataset changed.

Examples
--------
>>> import pandas as pd
>>> from hover_audio import AudioDataset
>>> ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["/a.wav", "/b.wav"]}))
>>> raw = ds.dfs["raw"]
>>> raw.loc[raw["audio"] == "/a.wav", "label"] = "dog"
>>> ds.to_pandas()["label"].tolist()       # not applied yet
['ABSTAIN', 'ABSTAIN']
>>> ds.synchronize_df_to_dictl()           # one operation: journaled, undoable
1
>>> ds.to_pandas()["label"].tolist()
['dog', 'ABSTAIN']
>>> ds.undo()
1
"""
from __future__ import annotations

import warnings
from typing import Mapping, NamedTuple

import numpy as np
import pandas as pd

from .schema import ABSTAIN, AUDIO, LABEL, MAX_REPORTED, SUBSET, SUBSETS, TAGS, TRANSCRIPT, row_ids

STALE = -1  # the version of frames that no longer show the table: read again when clean
IDENTITY = (AUDIO, "start", "end")  # the columns a row's key is made of
HINTS = {  # what changes a column the frames cannot change
    SUBSET: "move rows with commit(keys, subset), or move them to that subset's frame",
    TRANSCRIPT: "set_transcript(keys, text)",
    TAGS: "add_tags(keys, tags) and remove_tags(keys, tags)",
    "channel": "a row's channel is part of its key (#channel=N) and does not change",
}
OWN_COLUMN = "a column of your own is written with set_derived({column: values})"


class UnsyncedEditsWarning(UserWarning):
    """Edits made in ``dataset.dfs`` that were not synchronized into the dataset."""


class Rows(NamedTuple):
    """The frames read as rows by key: the row that counts for each key (test > dev >
    train > raw, then the later row), the frame it is in, its position there."""

    data: pd.DataFrame  # index: keys
    frame: np.ndarray  # the code (place in SUBSETS) of the subset frame
    position: np.ndarray
    columns: dict  # subset -> its frame's columns
    ids: dict  # subset -> (identity columns, keys) of its frame, to skip recomputing keys


class Edits(NamedTuple):
    labels: pd.Series  # key -> new label
    moves: pd.Series  # key -> new subset
    problems: list
    rows: int  # rows that differ in any way


def _values(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    return frame[name].to_numpy(dtype=object) if name in frame.columns else None


def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: equal values, or both missing."""
    missing = np.asarray(pd.isna(a), dtype=bool) & np.asarray(pd.isna(b), dtype=bool)
    try:
        equal = np.asarray(a == b, dtype=bool)
        if equal.shape != a.shape:
            raise ValueError
    except (TypeError, ValueError):
        equal = np.array([_equal(x, y) for x, y in zip(a, b)], dtype=bool)
    return equal | missing


def _equal(x, y) -> bool:
    try:
        return bool(np.all(x == y))
    except Exception:
        return x is y


def _frame_ids(frame: pd.DataFrame, known) -> tuple[list, np.ndarray]:
    """A frame's key columns and the keys of its rows: those remembered in ``known`` when
    its key columns did not change (computing 100,000 ranged keys takes a quarter second)."""
    columns = [_values(frame, name) for name in IDENTITY]
    if known is not None and len(known[1]) == len(frame) and all(
            (a is None) == (b is None) and (a is None or same(a, b).all())
            for a, b in zip(columns, known[0])):
        return columns, known[1]
    return columns, np.array(row_ids(frame), dtype=object)


def read_rows(frames: Mapping, known: Mapping | None = None) -> tuple[Rows, list[str]]:
    """``frames`` (subset -> DataFrame) as :class:`Rows`, and what makes them unreadable."""
    problems = [f"dfs[{name!r}]: not a subset ({', '.join(SUBSETS)})"
                for name in frames if name not in SUBSETS]
    parts, keys, codes, positions, columns, ids = [], [], [], [], {}, {}
    for code, name in enumerate(SUBSETS):  # in rising priority: the last row of a key counts
        frame = frames.get(name)
        if frame is None:
            continue
        if not isinstance(frame, pd.DataFrame):
            problems.append(f"dfs[{name!r}] is a {type(frame).__name__}, not a DataFrame")
            continue
        if AUDIO not in frame.columns or frame.columns.duplicated().any():
            problems.append(f"dfs[{name!r}] has no {AUDIO!r} column, or a column twice: "
                            "its rows cannot be told apart")
            continue
        try:
            ids[name] = _frame_ids(frame, (known or {}).get(name))
        except Exception as error:
            problems.append(f"dfs[{name!r}]: cannot read the keys of its rows ({error})")
            continue
        columns[name] = set(frame.columns)
        parts.append(frame)
        keys.append(ids[name][1])
        codes.append(np.full(len(frame), code, dtype=np.int8))
        positions.append(np.arange(len(frame)))
    data = (pd.concat(parts, ignore_index=True, sort=False) if parts
            else pd.DataFrame({AUDIO: []}))
    data.index = pd.Index(np.concatenate(keys) if keys else [], dtype=object)
    code = np.concatenate(codes) if codes else np.array([], dtype=np.int8)
    position = np.concatenate(positions) if positions else np.array([], dtype=int)
    last = ~data.index.duplicated(keep="last")
    return Rows(data[last], code[last], position[last], columns, ids), problems


def _listed(keys) -> str:
    keys = list(keys)
    more = f" and {len(keys) - MAX_REPORTED} more" if len(keys) > MAX_REPORTED else ""
    return f"{keys[:MAX_REPORTED]}{more}"


def _holding(rows: Rows, column: str) -> list[int]:
    """The codes of the frames of ``rows`` that have ``column``."""
    return [code for code, name in enumerate(SUBSETS) if column in rows.columns.get(name, ())]


def compare(base: Rows, now: Rows, problems: list[str]) -> Edits:
    """What changed from ``base`` to ``now``: labels and moves to apply, problems to refuse."""
    problems = list(problems)
    at = base.data.index.get_indexer(now.data.index)  # each row's place in base, or -1
    known = at >= 0
    unknown = now.data.index[~known]
    missing = np.ones(len(base.data), dtype=bool)
    missing[at[known]] = False
    if len(unknown):
        problems.append(f"{len(unknown)} row(s) in dfs are not rows of the dataset: "
                        f"{_listed(unknown)}; rows are added with merge() or add_range(), and "
                        "a range's times change with set_range(key, start, end)")
    if missing.any():
        problems.append(f"{int(missing.sum())} row(s) of the dataset are in no dfs frame: "
                        f"{_listed(base.data.index[missing])}; rows are taken out with "
                        "remove(keys)")
    keys, at = now.data.index[known], at[known]
    new, old = now.data[known], base.data.iloc[at]
    new_frame, old_frame = now.frame[known], base.frame[at]
    edited = np.zeros(len(keys), dtype=bool)
    labels = pd.Series([], dtype=object)
    for column in new.columns:
        holders = _holding(now, column)
        if not _holding(base, column):
            problems.append(f"column {column!r} of dfs{[SUBSETS[c] for c in holders]} is new: "
                            f"{OWN_COLUMN}, or drop it from the frame")
            edited |= np.isin(new_frame, holders)
            continue
        both = np.isin(new_frame, holders) & np.isin(old_frame, _holding(base, column))
        changed = both & ~same(_values(new, column), _values(old, column))
        edited |= changed
        if column == LABEL:
            labels = new[LABEL][changed].astype(object)
            bad = [f"dfs[{SUBSETS[code]!r}] row {row} ({key}): the label {value!r} is not a "
                   "non-empty string" for key, value, code, row in zip(
                       labels.index, labels, new_frame[changed], now.position[known][changed])
                   if not (isinstance(value, str) and value.strip())]
            problems += bad[:MAX_REPORTED] + ([f"... and {len(bad) - MAX_REPORTED} more bad "
                                               "labels"] if len(bad) > MAX_REPORTED else [])
        elif changed.any():
            hint = HINTS.get(column, "the key changes with set_range(key, start, end)"
                             if column in IDENTITY else OWN_COLUMN)
            problems.append(f"column {column!r} changed in {int(changed.sum())} row(s) "
                            f"({_listed(keys[changed])}): only labels, and rows moved to another "
                            f"subset's frame, come back to the dataset; {hint}")
    moved = new_frame != old_frame
    moves = pd.Series(np.array(SUBSETS, dtype=object)[new_frame[moved]], index=keys[moved],
                      dtype=object)
    rows = int((edited | moved).sum()) + len(unknown) + int(missing.sum())
    return Edits(labels, moves, problems, rows)


class WorkingFrames:
    """The frames ``dataset.dfs`` handed out, and what they held when handed out (or last
    synchronized), to tell the edits made since."""

    def __init__(self, table: pd.DataFrame, ids: pd.Index, version: int):
        self.frames, known = {}, {}
        for name in SUBSETS:
            rows = (table[SUBSET] == name).to_numpy()
            frame = self.frames[name] = table[rows].reset_index(drop=True)
            known[name] = ([_values(frame, column) for column in IDENTITY],
                           np.asarray(ids[rows], dtype=object))
        self.rebase(version, known)

    def rebase(self, version: int, known: Mapping | None = None) -> None:
        """Take the frames as they are now as the state edits are counted from."""
        self.base, _ = read_rows({name: frame.copy() for name, frame in self.frames.items()
                                  if isinstance(frame, pd.DataFrame)},
                                 self.base.ids if known is None else known)
        self.version = version

    def edits(self) -> Edits:
        return compare(self.base, *read_rows(self.frames, self.base.ids))


def frames_of(dataset) -> dict[str, pd.DataFrame]:
    """``dataset.dfs``: the working frames (see the module's docstring)."""
    with dataset._mutex:
        work = dataset._working
        if work is not None and work.version != dataset._changes:
            pending = work.edits().rows
            if pending:
                warnings.warn(f"dataset.dfs holds edits of {pending} row(s) not synchronized, "
                              "in frames that show the rows as they were before the dataset "
                              "last changed: synchronize_df_to_dictl() applies the edits, "
                              "synchronize_dictl_to_df() drops them", UnsyncedEditsWarning,
                              stacklevel=3)
            else:
                work = None
        if work is None:
            work = dataset._working = WorkingFrames(dataset._clips.frame, dataset._clips.ids,
                                                    dataset._changes)
        return work.frames


def synchronize(dataset) -> int:
    """Apply the edits of the working frames as one operation; returns how many rows changed.

    Raises ValueError, changing nothing, for edits it cannot apply (see the module)."""
    with dataset._mutex:
        work = dataset._working
        edits = work.edits() if work is not None else None
        if edits is None or not edits.rows:
            return 0
        if edits.problems:
            raise ValueError("synchronize_df_to_dictl() changed nothing:\n- "
                             + "\n- ".join(edits.problems))
        changes = pd.concat([edits.moves.rename(SUBSET), edits.labels.rename(LABEL)], axis=1)
        positions = dataset.positions(list(changes.index), missing="skip")
        if (positions < 0).any():
            raise ValueError(f"synchronize_df_to_dictl() changed nothing: {(positions < 0).sum()}"
                             f" row(s) edited in dfs left the dataset since: "
                             f"{_listed(changes.index[positions < 0])}; drop the edits with "
                             "synchronize_dictl_to_df()")
        table = dataset._clips
        subsets = changes[SUBSET].fillna(pd.Series(table.column(SUBSET)[positions],
                                                   changes.index))
        labels = changes[LABEL].fillna(pd.Series(table.column(LABEL)[positions], changes.index))
        bad = (labels == ABSTAIN) & (subsets != "raw")
        if bad.any():
            raise ValueError(f"synchronize_df_to_dictl() changed nothing: {int(bad.sum())} row(s) "
                             f"would be {ABSTAIN} outside raw: {_listed(changes.index[bad])}; "
                             "label them, or leave them in the raw frame")
        op = ()
        for column, values in ((SUBSET, changes[SUBSET]), (LABEL, changes[LABEL])):
            given = values.notna().to_numpy()
            for value in dict.fromkeys(values[given]):
                op += table.change(column, positions[given & (values == value).to_numpy()], value)
        current = work.version == dataset._changes and not len(edits.moves)
        changed = dataset._do(op)
        work.rebase(dataset._changes if current else STALE)
        return changed


def drop(dataset) -> None:
    """Forget the working frames; warns when they held edits not synchronized."""
    with dataset._mutex:
        work, dataset._working = dataset._working, None
        pending = work.edits().rows if work is not None else 0
    if pending:
        warnings.warn(f"dropped the edits of {pending} row(s) made in dataset.dfs and never "
                      "synchronized", UnsyncedEditsWarning, stacklevel=3)


def warn_unsynced(dataset, doing: str) -> None:
    """Warn that the working frames hold edits that ``doing`` leaves out."""
    with dataset._mutex:
        work = dataset._working
        pending = work.edits().rows if work is not None else 0
    if pending:
        warnings.warn(f"{doing} without the edits of {pending} row(s) made in dataset.dfs: "
                      "they are not synchronized; synchronize_df_to_dictl() applies them",
                      UnsyncedEditsWarning, stacklevel=3)
