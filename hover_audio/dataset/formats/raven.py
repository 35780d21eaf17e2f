"""Raven selection tables: tab-separated, one selection per row, many files by ``Begin Path``.

Columns written: ``Selection, View, Channel, Begin Time (s), End Time (s), Low Freq (Hz),
High Freq (Hz), Begin Path, File Offset (s), Annotation``, then ``Subset``,
``Transcript``, ``Whole File`` and the user's columns (Raven keeps extra columns).
Times are per file (``File Offset (s)`` = the start in its file); ``Channel`` is 1-based.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ...audio.decode import probe
from .entries import Entry, FormatError, checked_span, file_of, write_text

SUFFIXES = (".txt",)  # a folder of .txt files is Audacity's; a file is Raven's
COLUMNS = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)",
           "High Freq (Hz)", "Begin Path", "File Offset (s)", "Annotation"]
OURS = ["Subset", "Transcript", "Whole File", "Split Channel"]


def write(entries: list[Entry], path: Path) -> Path:
    extras = list(dict.fromkeys(name for entry in entries for name in entry.extra))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS + OURS + extras)
    headers = {}  # one header read per file
    for number, entry in enumerate(entries, start=1):
        if entry.file not in headers:
            headers[entry.file] = probe(entry.file)
        found = headers[entry.file]
        duration, nyquist = (found.duration, found.sr / 2.0) if found else (0.0, 0.0)
        start = entry.start if entry.start is not None else 0.0
        end = entry.end if entry.end is not None else duration
        writer.writerow([number, "Spectrogram 1", (entry.channel or 0) + 1, f"{start:.3f}",
                         f"{end:.3f}", 0, f"{nyquist:g}", entry.file, f"{start:.3f}",
                         entry.label, entry.subset, entry.transcript,
                         "yes" if entry.whole else "no",
                         "" if entry.channel is None else "yes"]
                        + ["" if entry.extra.get(name) is None else entry.extra[name]
                           for name in extras])
    return write_text(path, buffer.getvalue())


def read(path: Path) -> tuple[list[Entry], list[str]]:
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")),
                               delimiter="\t"))
    entries, problems = [], []
    for number, row in enumerate(rows, start=2):
        where = f"{path}, line {number}"
        try:
            audio = file_of(f"{where}, column 'Begin Path'", row.get("Begin Path"))
            begin, finish = row.get("Begin Time (s)"), row.get("End Time (s)")
            offset = row.get("File Offset (s)") or begin
            try:
                start, end = float(offset), float(offset) + float(finish) - float(begin)
            except (TypeError, ValueError):
                raise FormatError(f"{where}: times must be numbers") from None
            if (row.get("Whole File") or "").lower() == "yes":
                start = end = None
            else:
                start, end = checked_span(where, start, end)
            channel = None
            if row.get("Channel") and ((row.get("Split Channel") or "").lower() == "yes"
                                       or ("Split Channel" not in row and row["Channel"] != "1")):
                channel = int(row["Channel"]) - 1
            label = (row.get("Annotation") or "").strip()
            if not label:
                raise FormatError(f"{where}: empty Annotation")
            extra = {name: value for name, value in row.items()
                     if name not in COLUMNS and name not in OURS and name is not None}
            entries.append(Entry(audio, start, end, channel, label=label,
                                 subset=row.get("Subset") or "raw",
                                 transcript=row.get("Transcript") or "", extra=extra))
        except (FormatError, ValueError) as error:
            problems.append(str(error) if isinstance(error, FormatError) else f"{where}: {error}")
    return entries, problems
