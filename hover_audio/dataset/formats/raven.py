"""Raven selection tables: tab-separated, one selection per row, many files by ``Begin Path``.

Columns written: ``Selection, View, Channel, Begin Time (s), End Time (s), Low Freq (Hz),
High Freq (Hz), Begin Path, File Offset (s), Annotation``, then ``Subset``,
``Transcript``, ``Whole File``, ``Split Channel`` and the user's columns (Raven keeps extra
columns). Times are per file (``File Offset (s)`` = the start in its file).

The table is plain tab-separated text, as Raven writes it: no CSV quoting, so a ``"``
in a field is just a character. Written, a tab or line break inside a value (which
would break the row) becomes a space, and :func:`write` warns which values changed.

Read:

- the audio file: ``Begin Path`` (relative paths point from the table's folder, or from
  the audio root when one is given); when that names no file, or the table has no
  ``Begin Path``, ``Begin File`` looked up in that folder; with neither column, the
  audio file Raven named the table after (``x.wav`` for ``x.Table.1.selections.txt``)
  in that folder. A ``Begin File``
  that is not there is named once, as every missing audio file is (see
  :func:`~hover_audio.dataset.formats.read_file`).
- the label: ``Annotation``, else BirdNET's ``Common Name``, else the first of
  :data:`LABEL_COLUMNS` the table has; a table with none of them is an error naming
  the columns it has. Spaces around a label are left out, and said (a note; written,
  such a label is warned of).
- ``Subset``: empty is ``raw``; a name that is not a subset is a problem of its row.
- ``Channel`` is 1-based, as in Raven: ``Channel N`` is channel N-1 (0-based) of a file
  with several channels, and a mono file's ``Channel 1`` is the file itself. A file that
  cannot be read to count its channels: ``Channel 1`` is the file, ``Channel N`` (N > 1)
  channel N-1. hover-audio's own ``Split Channel`` column, when present, decides instead
  (``yes``: the channel; empty: the file).
"""
from __future__ import annotations

import glob
import re
from pathlib import Path

from ...audio.decode import probe
from ...audio.formats import AUDIO_SUFFIXES
from ...audio.sources import SourceError, local_path
from .entries import (Entry, FormatError, checked_span, file_of, padded_note,
                      padded_warning, subset_of, write_text)

SUFFIXES = (".txt",)  # a folder of .txt files is Audacity's; a file is Raven's
COLUMNS = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)",
           "High Freq (Hz)", "Begin Path", "File Offset (s)", "Annotation"]
OURS = ["Subset", "Transcript", "Whole File", "Split Channel"]
# where Raven users keep the label, in order of preference (BirdNET writes Common Name)
LABEL_COLUMNS = ("Annotation", "Common Name", "Species Code", "Species", "Label", "Class",
                 "Tags", "Sound Type", "Call Type")


def _plain(value, changed: set) -> str:
    """A value as a field: a tab or line break (which would break the row) becomes a space."""
    text = "" if value is None else str(value)
    plain = re.sub(r"[\t\r\n]", " ", text)
    if plain != text:
        changed.add(text)
    return plain


def write(entries: list[Entry], path: Path) -> Path:
    """Write the selection table; warns when tabs or line breaks in values became spaces."""
    extras = list(dict.fromkeys(name for entry in entries for name in entry.extra))
    changed: set[str] = set()
    padded = padded_warning(entry.label for entry in entries)
    lines = ["\t".join(_plain(name, changed) for name in COLUMNS + OURS + extras)]
    headers = {}  # one header read per file
    for number, entry in enumerate(entries, start=1):
        if entry.file not in headers:
            headers[entry.file] = probe(entry.file)
        found = headers[entry.file]
        duration, nyquist = (found.duration, found.sr / 2.0) if found else (0.0, 0.0)
        start = entry.start if entry.start is not None else 0.0
        end = entry.end if entry.end is not None else duration
        row = [number, "Spectrogram 1", (entry.channel or 0) + 1, f"{start:.3f}", f"{end:.3f}",
               0, f"{nyquist:g}", entry.file, f"{start:.3f}", entry.label, entry.subset,
               entry.transcript, "yes" if entry.whole else "no",
               "" if entry.channel is None else "yes"]
        row += [entry.extra.get(name) for name in extras]
        lines.append("\t".join(_plain(value, changed) for value in row))
    if changed or padded:
        import warnings

        warnings.warn("; ".join(
            ([f"tabs and line breaks in {len(changed)} value(s) written as spaces (a Raven "
              f"table cannot hold them), e.g. {sorted(changed)[0]!r}"] if changed else [])
            + padded), stacklevel=3)
    return write_text(path, "\n".join(lines) + "\n")


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """The header and ``(line number, row)`` of a table, split on tabs only (no quoting)."""
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    header = [name.strip() for name in lines[0].rstrip("\r").split("\t")]
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if line.strip():
            rows.append((number, dict(zip(header, line.split("\t")))))
    return header, rows


def read(path: Path, audio_root: Path | None = None) -> tuple[list[Entry], list[str]]:
    """The entries of a table; ``audio_root``: where its audio is (relative ``Begin Path``
    values, ``Begin File`` names, the file the table is named after), instead of the
    table's folder."""
    header, rows = _rows(path)
    label_column = next((name for name in LABEL_COLUMNS if name in header), None)
    if label_column is None:
        raise FormatError(f"{path}: no label column ({', '.join(LABEL_COLUMNS[:3])}, ...); "
                          f"its columns are {', '.join(repr(n) for n in header if n)}")
    files = _Files(path, header, audio_root)
    entries, problems, padded = [], [], []
    for number, row in rows:
        where = f"{path}, line {number}"
        try:
            entry = _entry(where, row, label_column, files)
        except FormatError as error:
            problems.append(str(error))
            continue
        if entry.label != row.get(label_column):
            padded.append(str(number))
        entry.named_by = files.named_by.get(entry.file, "")
        entries.append(entry)
    return entries, problems + padded_note(str(path), label_column, padded)  # (read: a note)


def _entry(where: str, row: dict, label_column: str, files: _Files) -> Entry:
    audio = files.audio(where, row)
    begin, finish = row.get("Begin Time (s)"), row.get("End Time (s)")
    offset = row.get("File Offset (s)") or begin
    try:
        start, end = float(offset), float(offset) + float(finish) - float(begin)
    except (TypeError, ValueError):
        raise FormatError(f"{where}: times must be numbers, got Begin Time {begin!r}, "
                          f"End Time {finish!r}, File Offset {offset!r}") from None
    if (row.get("Whole File") or "").lower() == "yes":
        start = end = None
    else:
        start, end = checked_span(where, start, end)
    label = (row.get(label_column) or "").strip()
    if not label:
        raise FormatError(f"{where}: empty {label_column}")
    extra = {name: value for name, value in row.items()
             if name and name not in COLUMNS and name not in OURS and name != label_column}
    return Entry(audio, start, end, _channel(where, row, files.channels(audio)), label=label,
                 subset=subset_of(f"{where}, column 'Subset'", row.get("Subset")),
                 transcript=row.get("Transcript") or "", extra=extra, where=where)


def _channel(where: str, row: dict, channels: int | None) -> int | None:
    """The 0-based channel of a row (None: the file itself); see the module's rule."""
    text = (row.get("Channel") or "").strip()
    if not text:
        return None
    number = int(text) if text.isdigit() else 0
    if number < 1:
        raise FormatError(f"{where}: column 'Channel' must be a channel number (1 = the "
                          f"first), got {text!r}")
    if channels is not None and number > channels:
        raise FormatError(f"{where}: Channel {number}, but the file has {channels} channel(s)")
    if "Split Channel" in row:  # our own table: it says which rows are channels
        return number - 1 if (row["Split Channel"] or "").lower() == "yes" else None
    if channels == 1 or (channels is None and number == 1):
        return None
    return number - 1


class _Files:
    """The audio file of each row, and the channel count of each file (read once)."""

    def __init__(self, path: Path, header: list[str], audio_root: Path | None = None):
        self.path, self.header = path, header
        self.folder = Path(audio_root) if audio_root else path.parent  # where the audio is
        self.counts: dict[str, int | None] = {}
        self.named_by: dict[str, str] = {}  # a Begin File not in the folder: why
        self.named = None
        if "Begin Path" not in header and "Begin File" not in header:
            self.named = self._named_after()

    def _named_after(self) -> str:
        stem = self.path.name.split(".Table.")[0] if ".Table." in self.path.name else \
            self.path.stem
        found = [p for p in sorted(self.folder.glob(f"{glob.escape(stem)}.*"))
                 if p.suffix.lower() in AUDIO_SUFFIXES]
        if not found:
            raise FormatError(f"{self.path}: no 'Begin Path' or 'Begin File' column to name the "
                              f"audio, and no audio file {stem}.* in {self.folder}; add the "
                              "Begin File measurement in Raven, or put the audio next to the "
                              "table (or give its folder as the audio root)")
        return found[0].name

    def _local(self, value: str) -> Path | None:
        try:
            path = local_path(value)
        except SourceError:
            return None
        if path is None:
            return None
        return path if path.is_absolute() else self.folder / path

    def audio(self, where: str, row: dict) -> str:
        if self.named:
            return self.named
        given, name = (row.get("Begin Path") or "").strip(), (row.get("Begin File") or "").strip()
        if given and (not name or self._exists(given) or not (self.folder / name).is_file()):
            return file_of(f"{where}, column 'Begin Path'", given)  # (Begin File no better)
        if not name:
            raise FormatError(f"{where}: no audio file named (empty Begin Path and Begin File)")
        name = file_of(f"{where}, column 'Begin File'", name)
        if not (self.folder / name).is_file():  # (named once, by read_file, with this)
            place = "the table's folder" if self.folder == self.path.parent else \
                "the audio root"
            self.named_by[name] = (f"Begin File {name!r} is not in {place} {self.folder}, "
                                   f"and no Begin Path of {self.path.name} names it")
        return name

    def _exists(self, value: str) -> bool:
        local = self._local(value)
        return local is not None and local.is_file()

    def channels(self, audio: str) -> int | None:
        if audio not in self.counts:
            local = self._local(audio)
            found = probe(str(local)) if local is not None and local.is_file() else None
            self.counts[audio] = found.channels if found else None
        return self.counts[audio]
