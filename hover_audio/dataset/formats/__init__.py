"""Other tools' formats: write a clip table as them, read them back as a clip table.

``prodigy`` (JSONL), ``label-studio`` (JSON tasks), ``encord`` (JSON, ms ranges),
``raven`` (selection table), ``audacity`` (a folder of label tracks), next to our own
``csv``/``json``/``parquet`` tables. Each format module has ``write(entries, path)``
and ``read(path, audio_root) -> (entries, problems)``; rows pass through
:mod:`.entries`. A record that cannot be read is a problem (named by file, line or
record, and field); the rest is read. Relative audio paths point from the audio root
when one is given, else from the file's folder. Each local audio file that is not there
is one problem, naming the file and how the reader came to it (its rows kept, or left
out when the caller asks: ``hover-audio import`` adds no row for audio that is not
there); a range past the end of its file, or a channel the file does not have, is a
problem of its record. A ``.txt`` file is an Audacity label track when its first line
is ``start<TAB>end<TAB>label`` (two numbers first), else a Raven selection table.
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
BOOLS = {"True": True, "False": False}  # flags as a Raven table holds them

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
        return _txt_kind(path) if path.is_file() else "raven"
    if suffix in (".csv", ".parquet"):
        return suffix[1:]
    if suffix == ".json":
        return _json_kind(path) if path.is_file() else "json"
    raise ValueError(f"{path}: cannot tell the format from {suffix or 'no suffix'!r}; "
                     f"give one of {', '.join(FORMATS)}")


def _txt_kind(path: Path) -> str:
    """``audacity`` for a label track (``start<TAB>end<TAB>label`` lines, the first two
    numbers; empty, for a track without labels), ``raven`` for a selection table (a header
    row of column names)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as file:
            first = next((line for line in file if line.strip()), "")
    except OSError:
        return "raven"
    parts = first.rstrip("\r\n").split("\t")
    if not first:
        return "audacity"
    try:
        float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        return "raven"
    return "audacity" if len(parts) == 3 else "raven"


def _json_kind(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not JSON: {error}") from None
    first = data[0] if isinstance(data, list) and data else None
    if isinstance(first, dict) and "data" in first and (
            "annotations" in first or "completions" in first or "predictions" in first):
        return "label-studio"
    if isinstance(first, dict) and isinstance(first.get("data"), dict) and AUDIO not in first:
        return "label-studio"  # tasks not labelled yet: data only (a table row has audio)
    if isinstance(first, dict) and "classifications" in first:
        return "encord"
    if isinstance(first, dict) and label_studio.export_hint(first):
        return "label-studio"  # a JSON-MIN export: its reader says to export as JSON
    return "json"


def write_file(table: pd.DataFrame, path: str | Path, format: str | None = None, *,
               include_unlabeled: bool = False) -> Path:
    """Write a clip table as ``format`` (inferred from ``path`` when None); returns the path."""
    path = Path(path)
    if format is None and path.suffix.lower() == ".txt" and not path.is_dir():
        kind = "raven"  # (a .txt file is written as a Raven table, whatever it held: unread)
    else:
        kind = detect(path, format) if format or path.suffix else "audacity"
    if kind in OURS:  # our own tables: every row, as always
        from ..table_files import write_table

        return write_table(table, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return MODULES[kind].write(entries_of(table, include_unlabeled), path)


def _against_the_audio(entries: list[Entry], keep_missing=True, home: Path | None = None,
                       root_given: bool = False) -> tuple[list[Entry], list[str]]:
    """Check entries against their local files, one problem per file: a missing file's
    rows are kept when ``keep_missing`` says so (True, or a callable of the row's key),
    else left out; an unreadable file's rows are kept; a range past the end of its file,
    or a channel the file does not have, is reported (naming the record) and left out.
    ``home``: where relative paths were looked for (``root_given``: the audio root)."""
    from ...audio.sources import SourceError, local_path

    facts: dict[str, tuple[float | None, int | None]] = {}
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
        if entry.file not in facts:
            facts[entry.file] = _facts(path)
        length, channels = facts[entry.file]
        if length is None and not path.is_file():
            found = missing.setdefault(entry.file, [entry.named_by or (
                "" if path.is_absolute() or home is None else
                f"a relative path, looked for from "
                f"{'the audio root ' if root_given else ''}{home} and from the current folder"),
                0, 0])
            keep = keep_missing(entry.key) if callable(keep_missing) else keep_missing
            found[1 if keep else 2] += 1
            if keep:
                kept.append(entry)
            continue
        where = f"{entry.where}: {entry.key}" if entry.where else entry.key
        if length is None:
            unreadable[entry.file] = unreadable.get(entry.file, 0) + 1
        elif entry.end is not None and entry.end > length + 0.0005:
            problems.append(f"{where}: the range ends after the file ({length:g} s); left out")
            continue
        if channels is not None and entry.channel is not None and entry.channel >= channels:
            problems.append(f"{where}: channel {entry.channel} (0 = the first), but the file "
                            f"has {channels} channel(s); left out")
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


def _facts(path: Path) -> tuple[float | None, int | None]:
    """Seconds and channels of a local file (its header, else seconds by a decode); None
    for what is not known (a file that is not there or not readable)."""
    from ...audio.decode import probe
    from ...audio.segments import duration_of

    if not path.is_file():
        return None, None
    try:
        found = probe(path)
        return (found.duration, found.channels) if found else (duration_of(path), None)
    except Exception:
        return None, None


def read_file(path: str | Path, format: str | None = None,
              audio_root: str | Path | None = None, warn: bool = False, *,
              keep_missing=True) -> tuple[pd.DataFrame, list[str]]:
    """A clip table from a file of another tool, and the problems met.

    A problem names what was left out of the table, or, a :class:`Note`, what was read
    but not as written (nothing left out). ``audio_root``: where the audio is; relative
    audio paths point from it (default: the file's folder), and Audacity's label tracks,
    Raven's ``Begin File`` names and Label Studio's local files and uploads are looked for
    under it. ``keep_missing``: the rows of a local audio file that is not there are kept
    (True; the file is named once), left out (False), or kept when the callable says so of
    the row's key. ``warn``: also warn once, naming the first problems and how many more.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such table file: {path}")
    kind = detect(path, format)
    root = Path(audio_root).absolute() if audio_root else None
    # where its relative paths point from: the audio root, else the file's own folder
    home = root or (path if path.is_dir() else path.parent)
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
        entries, problems = MODULES[kind].read(path, root)
    except (ValueError, UnicodeDecodeError) as error:  # the file as a whole is unreadable
        if isinstance(error, FormatError):
            raise
        raise FormatError(f"{path}: not a {kind} file: {error}") from None
    for entry, file in zip(entries, anchored_keys([entry.file for entry in entries], home)):
        entry.file = file
    entries, more = _against_the_audio(entries, keep_missing, home.absolute(), root is not None)
    problems = problems + more
    if warn and problems:
        import warnings

        warnings.warn(f"{len(problems)} problem(s) reading {path}: " + "; ".join(problems[:5])
                      + (f"; ... and {len(problems) - 5} more (`hover-audio import` lists "
                         "them)" if len(problems) > 5 else ""), stacklevel=3)
    table = table_of(entries)
    return (_numbers_as_numbers(table) if kind == "raven" else table), problems


def _numbers_as_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """A text table's columns whose every value is a number (Raven's measurements: "Delta
    Time (s)", "Peak Freq (Hz)") as numbers, and whose every value is ``True`` or ``False``
    (a column of flags, as a table of ours is written) as flags; the clip table's own
    columns stay text."""
    from ..schema import LABEL, SUBSET, TAGS, TRANSCRIPT

    for name in table.columns:
        if name in (AUDIO, LABEL, SUBSET, TRANSCRIPT, TAGS) or not (
                table[name].dtype == object or pd.api.types.is_string_dtype(table[name])):
            continue
        values = table[name].replace("", None)
        numbers = pd.to_numeric(values, errors="coerce")
        if values.notna().any() and numbers.notna().sum() == values.notna().sum():
            table[name] = numbers
        elif values.notna().any() and values.dropna().isin(BOOLS).all():  # as Raven wrote
            table[name] = values.map(BOOLS.get).astype(bool if values.notna().all() else object)
    return table
