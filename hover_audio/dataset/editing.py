"""Editing what the rows are: ranges of a file (move, split, add, remove) and transcripts.

Each function is one operation on an :class:`~hover_audio.dataset.AudioDataset`
(bound to it as a method of the same name): journaled before it returns,
undone in one step, and checked first, so bad input changes nothing. A range row
is keyed by a W3C media fragment (``file.wav#t=1.25,3.5``, times to the
millisecond). A new or moved range keeps the row's label, subset and other
columns; its vector comes through the dataset's vectorizer and cache, and its
map position is the mean of its five nearest rows (no refit).

Examples
--------
>>> ds = AudioDataset.from_folder("calls", segment={"mode": "nonsilent"})  # doctest: +SKIP
>>> key = ds.keys[0]                      # 'calls/a.wav#t=0.5,2.25'  # doctest: +SKIP
>>> key = ds.set_range(key, 0.4, 2.3)     # 'calls/a.wav#t=0.4,2.3'   # doctest: +SKIP
>>> left, right = ds.split(key, 1.2)                                  # doctest: +SKIP
>>> ds.set_transcript([left], "hello")                                # doctest: +SKIP
1
>>> ds.undo(), ds.undo()                                   # doctest: +SKIP
"""
from __future__ import annotations

import math
import os
from typing import Iterable

import numpy as np

from ..audio.key_forms import anchored_keys, plain_key
from ..audio.segments import duration_of
from ..audio.sources import clip_id, local_path, parse_key
from ..common.values import format_number, is_missing, milliseconds
from .clip_table import to_record
from .history import VECTOR, Change, RowChange
from .schema import (ABSTAIN, AUDIO, LABEL, SUBSET, TRANSCRIPT, check_label, check_subset,
                     key_list, one_key)

TOLERANCE = 0.0005  # half a millisecond: times are kept to the millisecond
NEIGHBOURS = 5  # rows whose mean position places a new one on the map


def set_range(dataset, key: str, start: float, end: float) -> str:
    """Move the start and end of the range row ``key``; returns its new key.

    Raises ValueError (naming the key and the times) when ``end <= start``, a
    time is negative, or the range runs past the end of the file; KeyError for
    an unknown key. Nothing changes then.
    """
    key = one_key(key)
    with dataset._mutex:
        position = _position(dataset, key)
        location = _location(dataset, position)
        start, end = _checked(key, location, start, end)
        new = _range_record(dataset, position, location, start, end)
        if new[AUDIO] == key:
            return key
        _do_rows(dataset, [position], [new])
        return new[AUDIO]


def split(dataset, key: str, at: float) -> tuple[str, str]:
    """Cut the row ``key`` in two at ``at`` seconds (in file time); returns both new keys.

    A whole-file row is split like the range ``0`` to its duration. Raises
    ValueError when ``at`` is not strictly inside the range.
    """
    key = one_key(key)
    with dataset._mutex:
        position = _position(dataset, key)
        location = _location(dataset, position)
        start, end = _span(dataset, position, location)
        at = _ms(at)
        if not start + TOLERANCE < at < end - TOLERANCE:
            raise ValueError(f"{key}: cannot split at {format_number(at)} s, outside the range "
                             f"{format_number(start)}-{format_number(end)} s")
        left = _range_record(dataset, position, location, start, at)
        right = _range_record(dataset, position, location, at, end)
        _do_rows(dataset, [position], [left, right])
        return left[AUDIO], right[AUDIO]


def add_range(dataset, audio: str, start: float, end: float, *, label: str = ABSTAIN,
              subset: str = "raw") -> str:
    """Add a range of the file ``audio`` as a new row (overlaps allowed); returns its key.

    Raises ValueError for bad times, an existing identical range, or a label or
    subset the dataset refuses (``ABSTAIN`` only in raw).
    """
    audio, label, subset = one_key(audio), check_label(label), check_subset(subset)
    if label == ABSTAIN and subset != "raw":
        raise ValueError(f"cannot add an {ABSTAIN} row to {subset}; give it a label")
    ref = parse_key(audio)
    location = plain_key(anchored_keys([ref.location], os.getcwd())[0])  # as from_pandas
    with dataset._mutex:
        start, end = _checked(audio, location, start, end)
        record = _range_record(dataset, None, location, start, end, ref.channel)
        record.update({LABEL: label, SUBSET: subset})
        if dataset.positions([record[AUDIO]], missing="skip")[0] >= 0:
            raise ValueError(f"{record[AUDIO]} is already a row")
        _do_rows(dataset, [], [record])
        return record[AUDIO]


def remove(dataset, keys: Iterable[str] | str) -> int:
    """Take the rows ``keys`` out of the dataset (undoable); returns how many.

    Raises KeyError naming unknown keys; nothing is removed then.
    """
    keys = list(dict.fromkeys(key_list(keys)))
    with dataset._mutex:
        positions = dataset.positions(keys)
        if not len(positions):
            return 0
        _do_rows(dataset, list(positions), [])
        return len(positions)


def set_transcript(dataset, keys: Iterable[str] | str, text: str) -> int:
    """Set the free-text ``transcript`` of the rows ``keys``; returns how many changed.

    One operation (one undo step). Raises KeyError naming unknown keys and
    TypeError for text that is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"a transcript is text, got {type(text).__name__}")
    keys = key_list(keys)
    with dataset._mutex:
        positions = dataset.positions(keys)
        table = dataset._clips
        if TRANSCRIPT not in table.columns:
            current = np.full(len(positions), "", dtype=object)
        else:
            current = table.column(TRANSCRIPT)[positions]
            current = np.array(["" if is_missing(v) else v for v in current], dtype=object)
        moving = current != text
        if not moving.any():
            return 0
        change = Change(TRANSCRIPT, tuple(table.ids[positions[moving]]),
                        tuple(current[moving]), text)
        return dataset._do((change,))


# --------------------------------------------------------------------- helpers
def _position(dataset, key: str) -> int:
    return int(dataset.positions([key])[0])


def _ms(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"a time in seconds is a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"a time in seconds is finite, got {value!r}")
    return milliseconds(value)


def _ref(dataset, position: int):
    """The parsed key of a row, with its range and channel columns."""
    table = dataset._clips.frame
    row = table.iloc[position]
    values = [row.get(name) if name in table.columns else None
              for name in ("start", "end", "channel")]
    return parse_key(row[AUDIO], *[None if is_missing(v) else v for v in values])


def _location(dataset, position: int) -> str:
    return _ref(dataset, position).location


def _duration(location: str) -> float | None:
    path = local_path(location)
    if path is None or not path.is_file():
        return None
    try:
        return duration_of(path)
    except Exception:
        return None


def _span(dataset, position: int, location: str) -> tuple[float, float]:
    """The row's range in file time: its start and end, a whole file 0 to its duration."""
    ref = _ref(dataset, position)
    begin = ref.start or 0.0
    finish = ref.end if ref.end is not None else _duration(location)
    if finish is None:
        raise ValueError(f"{ref.key}: the end of this clip is unknown (the file cannot "
                         "be read); give the range's times")
    return _ms(begin), _ms(finish)


def _checked(key: str, location: str, start, end) -> tuple[float, float]:
    start, end = _ms(start), _ms(end)
    if start < 0:
        raise ValueError(f"{key}: the range cannot start before 0 s (start {format_number(start)} s)")
    if end <= start:
        raise ValueError(f"{key}: the end ({format_number(end)} s) must be after the start "
                         f"({format_number(start)} s)")
    duration = _duration(location)
    if local_path(location) is not None and duration is None:
        raise ValueError(f"{key}: cannot read {location} to check the range "
                         f"{format_number(start)}-{format_number(end)} s")
    if duration is not None and end > duration + TOLERANCE:
        raise ValueError(f"{key}: the range {format_number(start)}-{format_number(end)} s runs "
                         f"past the end of the file ({format_number(duration)} s)")
    return start, end


def _range_record(dataset, template: int | None, location: str, start: float,
                  end: float, channel: int | None = None) -> dict:
    """A row for ``location`` from ``start`` to ``end``: a copy of ``template``'s row
    (label, subset, user columns), with its key, range columns, vector and map position."""
    table = dataset._clips.frame
    if template is None:
        record = {name: None for name in table.columns}
        record.update({LABEL: ABSTAIN, SUBSET: "raw"})
    else:
        record = to_record(table.iloc[template], None)
        channel = _ref(dataset, template).channel
    key = clip_id(location, start, end, channel)  # a channel row's ranges keep its channel
    record[AUDIO] = key
    for name, value in (("start", start), ("end", end), ("source", location),
                        ("channel", channel)):
        if name in table.columns:
            record[name] = value
    if record.get(TRANSCRIPT) is None and TRANSCRIPT in table.columns:
        record[TRANSCRIPT] = ""
    for name in ("vector_error", "duration"):
        if name in record:
            record[name] = None if name == "vector_error" else milliseconds(end - start)
    vector = _vector(dataset, key)
    record[VECTOR] = None if vector is None else [float(x) for x in vector]
    _place(dataset, record, vector)
    return record


def _vector(dataset, key: str) -> np.ndarray | None:
    if dataset.vectors is None or dataset.vectorizer is None:
        return None
    from ..vectors.jobs import vectorize_one

    try:
        return vectorize_one(dataset.vectorizer, key)
    except Exception as error:  # any failure of the clip: refuse the edit
        raise ValueError(f"{key}: cannot compute its vector: {error}") from error


def _place(dataset, record: dict, vector: np.ndarray | None) -> None:
    """Map coordinates of a new row: the mean position of its nearest rows."""
    columns = [name for name in record if name.startswith("embed_") and "d_" in name]
    if not columns:
        return
    table = dataset._clips.frame
    coords = table[columns].to_numpy(dtype=float)
    if vector is None or dataset.vectors is None:
        for name in columns:
            record[name] = None
        return
    nearest = dataset.similarity_index().top_k(vector, NEIGHBOURS)
    nearest = nearest[np.isfinite(coords[nearest]).all(axis=1)]
    for at, name in enumerate(columns):
        record[name] = float(coords[nearest, at].mean()) if len(nearest) else None


def _do_rows(dataset, positions: list[int], added: list[dict]) -> int:
    table = dataset._clips.frame
    vectors = dataset.vectors
    removed = tuple(to_record(table.iloc[at], None if vectors is None else vectors[at])
                    for at in positions)
    return dataset._do((RowChange(removed, tuple(added)),))
