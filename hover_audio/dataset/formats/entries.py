"""The one shape every exchange format is written from and read into: an entry per row.

An :class:`Entry` is a row seen by other tools: a file, an optional range in seconds
(to the millisecond) and channel, a label, a subset, a transcript and the user's
own columns. :func:`entries_of` turns a clip table into entries (whole files and
ranges mixed), :func:`table_of` turns entries back into a clip table whose keys are
the same W3C media fragments the dataset uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ...audio.sources import SourceError, clip_id, local_path, parse_key
from ...common.files import atomic_write
from ...common.values import is_missing, milliseconds
from ..schema import (ABSTAIN, AUDIO, LABEL, SUBSET, SUBSETS, TAG_SEPARATOR, TAGS, TRANSCRIPT,
                      check_subset)

# columns a format stores in its own fields; everything else travels as user columns
OWN_COLUMNS = (AUDIO, LABEL, SUBSET, TRANSCRIPT, "start", "end", "channel", "source")
DERIVED_PREFIXES = ("embed_", "pred_")  # recomputed, never exported as the user's
DERIVED_COLUMNS = ("vector_error", "suspect_label", "suggested", "duplicate_of", "outlier",
                   "suggested_tags")


class FormatError(ValueError):
    """A file of another tool that cannot be read: names the file, record and field."""


class Note(str):
    """A problem that leaves nothing out: the records it names are read (a point label
    widened to a range, audio that is missing but whose rows are kept, a task with
    nothing to import). Any other problem means some of the file was not read."""


@dataclass
class Entry:
    """One row as other tools see it."""

    file: str
    start: float | None = None  # None: the whole file
    end: float | None = None
    channel: int | None = None
    label: str = ABSTAIN
    subset: str = "raw"
    transcript: str = ""
    extra: dict = field(default_factory=dict)  # the user's columns, JSON values
    named_by: str = ""  # how the reader found the file (said when it is missing)
    where: str = ""  # the record it was read from (file, line or record, field)

    @property
    def whole(self) -> bool:
        return self.start is None and self.end is None

    @property
    def key(self) -> str:
        return clip_id(self.file, self.start, self.end, self.channel)

    def optional_fields(self) -> dict:
        """``channel``, ``transcript`` and ``meta`` (the user's columns), where set."""
        fields = {"channel": self.channel, "transcript": self.transcript, "meta": self.extra}
        return {name: value for name, value in fields.items()
                if value is not None and value != "" and value != {}}


def write_text(path, text: str) -> Path:
    """Write a format's text file atomically (UTF-8); returns the path."""
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def _json_value(value):
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def user_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in OWN_COLUMNS and c not in DERIVED_COLUMNS
            and not str(c).startswith(DERIVED_PREFIXES)]


def entries_of(table: pd.DataFrame, include_unlabeled: bool = False) -> list[Entry]:
    """The rows of a clip table as entries; ``ABSTAIN`` rows only with ``include_unlabeled``."""
    extras = user_columns(table)
    entries = []
    for record in table.to_dict("records"):
        label = record[LABEL]
        if label == ABSTAIN and not include_unlabeled:
            continue
        values = [None if is_missing(record.get(name)) else record.get(name)
                  for name in ("start", "end", "channel")]
        ref = parse_key(record[AUDIO], *values)
        text = record.get(TRANSCRIPT)
        entries.append(Entry(
            file=ref.location, start=None if ref.start is None else milliseconds(ref.start),
            end=None if ref.end is None else milliseconds(ref.end), channel=ref.channel, label=label,
            subset=record[SUBSET], transcript="" if is_missing(text) else str(text),
            extra={name: _json_value(record[name]) for name in extras}))
    return entries


def table_of(entries: list[Entry]) -> pd.DataFrame:
    """A clip table (``audio``, ``label``, ``SUBSET``, ``transcript`` and user columns)."""
    rows = []
    for entry in entries:
        row = {AUDIO: entry.key, LABEL: entry.label or ABSTAIN,
               SUBSET: entry.subset if entry.subset in SUBSETS else "raw",
               TRANSCRIPT: entry.transcript or ""}
        for name, value in entry.extra.items():
            if name not in row:
                row[name] = value
        rows.append(row)
    columns = [AUDIO, LABEL, SUBSET, TRANSCRIPT]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=columns)
    if TAGS in table.columns:  # a row without tags has "" (as the tags column keeps it)
        table[TAGS] = table[TAGS].fillna("")
    return table[columns + [c for c in table.columns if c not in columns]]


def checked_span(where: str, start, end) -> tuple[float, float]:
    """A range read from another tool's file, in seconds to the millisecond.

    Raises
    ------
    FormatError
        When start/end are not numbers, start < 0, or end <= start once both are
        rounded to the millisecond (a range that rounds to nothing is not imported).
    """
    try:
        start, end = float(start), float(end)
    except (TypeError, ValueError):
        raise FormatError(f"{where}: start/end must be numbers, got {start!r}, {end!r}") from None
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
        raise FormatError(f"{where}: bad range {start:g}-{end:g} s (needs 0 <= start < end)")
    if milliseconds(end) <= milliseconds(start):
        raise FormatError(f"{where}: bad range {start:g}-{end:g} s: shorter than a millisecond "
                          "once rounded (ranges are kept to the millisecond)")
    return milliseconds(start), milliseconds(end)


def channel_of(where: str, value) -> int | None:
    """A channel index (0 = the first) read from a record; None when not given.

    Raises
    ------
    FormatError
        When the value is not a whole number >= 0 (``"left"``, ``-1``, ``1.5``, ``true``).
    """
    if value is None or value == "":
        return None
    number = None
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            pass
    if number is None or not number.is_integer() or number < 0:
        raise FormatError(f"{where}: field 'channel' must be a channel number (0 = the first), "
                          f"got {value!r}")
    return int(number)


def file_of(where: str, value) -> str:
    """The audio file named by a record, checked to be a usable key."""
    if not isinstance(value, str) or not value.strip():
        raise FormatError(f"{where}: no audio file named")
    try:
        location = parse_key(value).location
        local_path(location)  # a scheme we cannot read (s3:, data:, ...) is named here
    except SourceError as error:
        raise FormatError(f"{where}: {error}") from None
    return location


def subset_of(where: str, value) -> str:
    """The subset a record names (missing or empty: ``raw``), checked as a table's is:
    one of :data:`~hover_audio.dataset.schema.SUBSETS`, spelled as they are.

    Raises
    ------
    FormatError
        For any other value (``"validation"``, ``"Train"``), naming the record.
    """
    if value is None or value == "":
        return "raw"
    try:
        return check_subset(value)
    except ValueError as error:
        raise FormatError(f"{where}: {error}") from None


def padded_warning(labels) -> list[str]:
    """The warning a writer gives for labels with spaces around them (none: no warning)."""
    padded = sorted({label for label in labels if label != label.strip()})
    return [f"{len(padded)} label(s) with spaces around them, e.g. {padded[0]!r}: read back, "
            "a label is taken without them"] if padded else []


def padded_note(where: str, what: str, lines: list[str]) -> list[Note]:
    """The note a reader gives for the ``lines`` whose ``what`` had spaces around it."""
    return [Note(f"{where}: spaces around the {what} on line(s) {', '.join(lines[:10])}"
                 f"{' ...' if len(lines) > 10 else ''} left out of the label")] if lines else []


def add_tags(where: str, entry: Entry, more: list[str], problems: list[str]) -> None:
    """Keep the labels beyond an entry's first as its tags (a tag cannot hold ``;``): a
    record with several labels (Label Studio's multi-label regions, Prodigy's choices)."""
    more = [tag.strip() for tag in more if tag.strip() and tag.strip() != entry.label]
    dropped = [tag for tag in more if TAG_SEPARATOR in tag]
    if dropped:
        problems.append(f"{where}: label(s) {', '.join(map(repr, dropped))} left out: the "
                        f"first label is the label, the others become tags, and a tag cannot "
                        f"hold {TAG_SEPARATOR!r}")
    kept = [tag for tag in more if tag not in dropped]
    if kept:
        have = str(entry.extra.get(TAGS) or "")
        tags = {t.strip() for t in have.split(TAG_SEPARATOR) if t.strip()} | set(kept)
        entry.extra[TAGS] = TAG_SEPARATOR.join(sorted(tags))


class Lengths:
    """The length in seconds of each local file a writer meets, read once from its header
    (None: a URL, or a file that is not there or not readable)."""

    def __init__(self):
        self.seconds: dict[str, float | None] = {}

    def __call__(self, file: str) -> float | None:
        if file not in self.seconds:
            from ...audio.decode import probe

            try:
                found = probe(file)
            except Exception:  # (a scheme we do not read: no length either)
                found = None
            # to the millisecond, rounded down: a range to it never ends after the file
            self.seconds[file] = None if found is None else math.floor(
                found.duration * 1000 + 1e-6) / 1000
        return self.seconds[file]
