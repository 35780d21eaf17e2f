"""Other tools' formats: write a clip table as them, read them back as a clip table.

``prodigy`` (JSONL), ``label-studio`` (JSON tasks), ``encord`` (JSON, ms ranges),
``raven`` (selection table), ``audacity`` (a folder of label tracks), next to our own
``csv``/``json``/``parquet`` tables. Each format module has ``write(entries, path)``
and ``read(path) -> (entries, problems)``; rows pass through
:mod:`.entries`. A record that cannot be read is a problem (named by file, line or
record, and field); the rest is read. Each local audio file that is not there is one
problem, naming the file and how the reader came to it (its rows kept, or left out
when the caller asks: ``hover-audio import`` adds no row for audio that is not there).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ...audio.key_forms import anchored_keys
from ..schema import AUDIO
from . import audacity, encord, label_studio, prodigy, raven
from .entries import Entry, FormatError, Note, entries_of, table_of

OURS = ("csv", "json", "parquet")
MODULES = {"prodigy": prodigy, "label-studio": label_studio, "encord": encord, "raven": raven,
           "audacity": audacity}
FORMATS = (*MODULES, *OURS)

__all__ = ["FORMATS", "Entry", "FormatError", "Note", "detect", "read_file", "write_file"]


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


def _against_the_audio(entries: list[Entry], keep_missing=True, home: Path | None = None
                       ) -> tuple[list[Entry], list[str]]:
    """Check entries against their local files, one problem per file: a missing file's
    rows are kept when ``keep_missing`` says so (True, or a callable of the row's key),
    else left out; an unreadable file's rows are kept; a range past the end of its file
    is reported and left out."""
    from ...audio.sources import SourceError, local_path

    lengths: dict[str, float | None] = {}
    missing: dict[str, list] = {}  # file -> [named_by, rows kept, rows left out]
    unreadable: dict[str, int] = {}
    kept, problems = [], []
    for entry in entries:
        try:
            path = local_path(entry.file)
        except SourceError:  # (the readers name such files; not ours to check)
            path = None
        if path is None:  # a URL: not fetched here
            kept.append(entry)
            continue
        if entry.file not in lengths:
            lengths[entry.file] = _duration(path)
        length = lengths[entry.file]
        if length is None and not path.is_file():
            found = missing.setdefault(entry.file, [entry.named_by or (
                "" if path.is_absolute() or home is None else
                f"a relative path, looked for from {home} and from the current folder"), 0, 0])
            keep = keep_missing(entry.key) if callable(keep_missing) else keep_missing
            found[1 if keep else 2] += 1
            if keep:
                kept.append(entry)
            continue
        if length is None:
            unreadable[entry.file] = unreadable.get(entry.file, 0) + 1
        elif entry.end is not None and entry.end > length + 0.0005:
            problems.append(f"{entry.key}: the range ends after the file ({length:g} s); "
                            "left out")
            continue
        kept.append(entry)
    for file, (named_by, rows_kept, left_out) in missing.items():
        text = f"{file}: missing audio, no such file" + (f" ({named_by})" if named_by else "")
        if not left_out:
            problems.append(Note(f"{text}; its {rows_kept} row(s) are kept"))
        else:
            problems.append(f"{text}; {left_out} row(s) not imported" + (
                f" ({rows_kept} kept: rows already there)" if rows_kept else ""))
    problems += [Note(f"{file}: unreadable audio; its {count} row(s) are kept")
                 for file, count in unreadable.items()]
    return kept, problems


def _duration(path: Path) -> float | None:
    """Seconds of a local file (its header, else a decode), None when it is not readable."""
    from ...audio.segments import duration_of

    try:
        return duration_of(path) if path.is_file() else None
    except Exception:
        return None


def read_file(path: str | Path, format: str | None = None,
              audio_root: str | Path | None = None, warn: bool = False, *,
              keep_missing=True) -> tuple[pd.DataFrame, list[str]]:
    """A clip table from a file of another tool, and the problems met.

    A problem names what was left out of the table, or, a :class:`Note`, what was read
    but not as written (nothing left out). ``audio_root``: where Audacity's label
    tracks, and Label Studio's local files and uploads, find their audio.
    ``keep_missing``: the rows of a local audio file that is not there are kept (True;
    the file is named once), left out (False), or kept when the callable says so of
    the row's key. ``warn``: also warn once, naming the first problems.
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
        root = audio_root and Path(audio_root).absolute()
        if kind in ("audacity", "label-studio"):
            entries, problems = MODULES[kind].read(path, root)
        else:
            entries, problems = MODULES[kind].read(path)
    except (ValueError, UnicodeDecodeError) as error:  # the file as a whole is unreadable
        if isinstance(error, FormatError):
            raise
        raise FormatError(f"{path}: not a {kind} file: {error}") from None
    for entry, file in zip(entries, anchored_keys([entry.file for entry in entries], home)):
        entry.file = file
    entries, more = _against_the_audio(entries, keep_missing, home.absolute())
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
