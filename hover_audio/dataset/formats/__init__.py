"""Other tools' formats: write a clip table as them, read them back as a clip table.

``prodigy`` (JSONL), ``label-studio`` (JSON tasks), ``encord`` (JSON, ms ranges),
``raven`` (selection table), ``audacity`` (a folder of label tracks), next to our own
``csv``/``json``/``parquet`` tables. Each format module has ``write(entries, path)``
and ``read(path) -> (entries, problems)``; rows pass through
:mod:`.entries`. A record that cannot be read is a problem (named by file, line or
record, and field); the rest is read.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ...audio.key_forms import anchored_keys
from ..schema import AUDIO
from . import audacity, encord, label_studio, prodigy, raven
from .entries import Entry, FormatError, entries_of, table_of

OURS = ("csv", "json", "parquet")
MODULES = {"prodigy": prodigy, "label-studio": label_studio, "encord": encord, "raven": raven,
           "audacity": audacity}
FORMATS = (*MODULES, *OURS)

__all__ = ["FORMATS", "Entry", "FormatError", "detect", "read_file", "write_file"]


def detect(path: str | Path, format: str | None = None) -> str:
    """The format of ``path``: ``format`` if given, else by suffix and, for ``.json``, content."""
    path = Path(path)
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
        return format
    suffix = path.suffix.lower()
    if path.is_dir():
        return "audacity"
    if suffix == ".jsonl":
        return "prodigy"
    if suffix == ".txt":
        return "raven"
    if suffix in (".csv", ".parquet"):
        return suffix[1:]
    if suffix == ".json":
        return _json_kind(path) if path.is_file() else "json"
    raise ValueError(f"{path}: cannot tell the format from {suffix or 'no suffix'!r}; "
                     f"give one of {', '.join(FORMATS)}")


def _json_kind(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not JSON: {error}") from None
    first = data[0] if isinstance(data, list) and data else None
    if isinstance(first, dict) and "data" in first and (
            "annotations" in first or "completions" in first or "predictions" in first):
        return "label-studio"
    if isinstance(first, dict) and "classifications" in first:
        return "encord"
    if isinstance(first, dict) and label_studio.export_hint(first):
        return "label-studio"  # a JSON-MIN export: its reader says to export as JSON
    return "json"


def write_file(table: pd.DataFrame, path: str | Path, format: str | None = None, *,
               include_unlabeled: bool = False) -> Path:
    """Write a clip table as ``format`` (inferred from ``path`` when None); returns the path."""
    path = Path(path)
    kind = detect(path, format) if format or path.suffix else "audacity"
    if kind in OURS:  # our own tables: every row, as always
        from ..table_files import write_table

        return write_table(table, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return MODULES[kind].write(entries_of(table, include_unlabeled), path)


def _against_the_audio(entries: list[Entry]) -> tuple[list[Entry], list[str]]:
    """Check entries against their local files: a missing file is reported (its labels
    are kept), a range past the end of its file is reported and left out."""
    from ...audio.sources import local_path

    lengths: dict[str, float | None] = {}
    kept, problems = [], []
    for entry in entries:
        path = local_path(entry.file)
        if path is None:  # a URL: not fetched here
            kept.append(entry)
            continue
        if entry.file not in lengths:
            lengths[entry.file] = _duration(path)
            if lengths[entry.file] is None:
                problems.append(f"{entry.file}: missing or unreadable audio (its labels are kept)")
        length = lengths[entry.file]
        if length is not None and entry.end is not None and entry.end > length + 0.0005:
            problems.append(f"{entry.key}: the range ends after the file ({length:g} s); "
                            "left out")
            continue
        kept.append(entry)
    return kept, problems


def _duration(path: Path) -> float | None:
    """Seconds of a local file (its header, else a decode), None when it is not readable."""
    from ...audio.segments import duration_of

    try:
        return duration_of(path) if path.is_file() else None
    except Exception:
        return None


def read_file(path: str | Path, format: str | None = None,
              audio_root: str | Path | None = None, warn: bool = False
              ) -> tuple[pd.DataFrame, list[str]]:
    """A clip table from a file of another tool, and the problems met (records left out).

    ``warn``: also warn once, naming the first problems.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such table file: {path}")
    kind = detect(path, format)
    home = path if path.is_dir() else path.parent  # where its relative paths point from
    if kind in OURS:
        from ..table_files import read_table

        table = read_table(path)
        hint = label_studio.export_hint(table)
        if hint:  # Label Studio's CSV export, not a table of ours
            raise FormatError(f"{path}: {hint}")
        if AUDIO in table.columns:
            table[AUDIO] = anchored_keys(table[AUDIO], home)
        return table, []
    try:
        if kind == "audacity":
            entries, problems = audacity.read(path, audio_root and Path(audio_root).absolute())
        else:
            entries, problems = MODULES[kind].read(path)
    except (ValueError, UnicodeDecodeError) as error:  # the file as a whole is unreadable
        if isinstance(error, FormatError):
            raise
        raise FormatError(f"{path}: not a {kind} file: {error}") from None
    for entry, file in zip(entries, anchored_keys([entry.file for entry in entries], home)):
        entry.file = file
    entries, more = _against_the_audio(entries)
    problems = problems + more
    if warn and problems:
        import warnings

        warnings.warn(f"{len(problems)} problem(s) reading {path}: " + "; ".join(problems[:5])
                      + (" ..." if len(problems) > 5 else ""), stacklevel=3)
    table = table_of(entries)
    return (_numbers_as_numbers(table) if kind == "raven" else table), problems


def _numbers_as_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """A text table's columns whose every value is a number (Raven's measurements: "Delta
    Time (s)", "Peak Freq (Hz)") as numbers; the clip table's own columns stay text."""
    from ..schema import LABEL, SUBSET, TAGS, TRANSCRIPT

    for name in table.columns:
        if name in (AUDIO, LABEL, SUBSET, TRANSCRIPT, TAGS) or not (
                table[name].dtype == object or pd.api.types.is_string_dtype(table[name])):
            continue
        values = table[name].replace("", None)
        numbers = pd.to_numeric(values, errors="coerce")
        if values.notna().any() and numbers.notna().sum() == values.notna().sum():
            table[name] = numbers
    return table
