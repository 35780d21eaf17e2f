"""Audacity label tracks: a folder of ``<audio file name>.txt``, one per audio file.

Each line is ``start<TAB>end<TAB>label`` in seconds; a whole-file label is written as a
point label at 0 (``0<TAB>0<TAB>label``). Read: a point label elsewhere
(``3.000000<TAB>3.000000<TAB>click``, how Audacity users mark an event) becomes a range of
:data:`POINT_WIDTH` seconds centred on the point, clipped to the file, and each track
with such labels adds one line to the problems saying which lines were widened (widen
them in Audacity for other lengths); a spectral selection's line (``\\<TAB>low<TAB>high``)
is skipped; spaces around a label are left out, and said. The files mirror the audio
files' folders below their common root. Label tracks have no room for subsets,
transcripts, channels or other columns: reading gives ``raw`` rows.

Read, a folder of tracks or one track (a ``.txt`` file, as Audacity exports it): each
track's audio is the file it is named after, ``take 1.wav`` for ``take 1.wav.txt``, or
for ``take 1.txt`` the one audio file ``take 1.*`` there; it is looked for at the same
relative place under ``audio_root`` (default: the folder the audio was in when
hover-audio wrote the tracks, as its record says; else beside the ``.txt``). An audio
file that is not there is named once, with the track and root it came from.
"""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Callable

from ...audio.decode import probe
from ...audio.formats import AUDIO_SUFFIXES
from ...audio.sources import SourceError, local_path
from .entries import (Entry, FormatError, Note, checked_span, padded_note, padded_warning,
                      write_text)

SUFFIXES = ()  # a folder: chosen by --format audacity
POINT_WIDTH = 1.0  # seconds: a point label is read as a range this long, centred on it


WRITTEN = ".hover-audio-tracks"  # in the folder: the tracks the last export wrote,
ROOT_LINE = "# audio root\t"  # after the folder of the audio files they mirror


def _recorded(folder: Path) -> tuple[str | None, list[str]]:
    """The audio root and the tracks the last export to ``folder`` wrote (None, []: none)."""
    record = folder / WRITTEN
    lines = record.read_text(encoding="utf-8").splitlines() if record.is_file() else []
    root = next((line[len(ROOT_LINE):] for line in lines if line.startswith(ROOT_LINE)), None)
    return root or None, [line for line in lines if line and not line.startswith("#")]


def write(entries: list[Entry], folder: Path) -> Path:
    """Write the tracks; the tracks an earlier export wrote to ``folder`` and this one does
    not are removed (their labels are gone from the dataset); other files are left alone.
    URLs and labels with tabs or line breaks, which a track cannot hold, are said."""
    by_file: dict[str, list[Entry]] = {}
    urls, channels = set(), 0
    for entry in entries:
        if not _local(entry.file):
            urls.add(entry.file)
        else:
            by_file.setdefault(entry.file, []).append(entry)
            channels += entry.channel is not None
    files = [os.path.abspath(name) for name in by_file]
    root = os.path.commonpath([os.path.dirname(name) for name in files]) if files else ""
    folder.mkdir(parents=True, exist_ok=True)
    written, changed, padded = [], set(), set()
    for name, found in by_file.items():
        relative = os.path.relpath(os.path.abspath(name), root) + ".txt"
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for entry in found:
            label = re.sub(r"[\t\r\n]", " ", entry.label)
            if label != entry.label:
                changed.add(entry.label)
            elif label != label.strip():
                padded.add(label)
            lines.append(f"{entry.start or 0.0:.6f}\t{entry.end or 0.0:.6f}\t{label}")
        write_text(target, "\n".join(lines) + "\n")
        written.append(relative)
    record = folder / WRITTEN
    before = _recorded(folder)[1]
    for relative in set(before) - set(written):
        (folder / relative).unlink(missing_ok=True)
    write_text(record, f"{ROOT_LINE}{root}\n" + "\n".join(sorted(written)) + "\n")
    if urls or changed or channels or padded:
        import warnings

        warnings.warn("; ".join(
            ([f"{len(urls)} clip(s) at URLs left out (label tracks name local files), e.g. "
              f"{sorted(urls)[0]}"] if urls else [])
            + ([f"tabs and line breaks in {len(changed)} label(s) written as spaces, e.g. "
                f"{sorted(changed)[0]!r}"] if changed else [])
            + ([f"{channels} row(s) of one channel written to their file's track (a label "
                "track has no channels: read back, they are rows of the whole mix)"]
               if channels else [])
            + padded_warning(padded)), stacklevel=3)
    return folder


def read(path: Path, audio_root: Path | None = None) -> tuple[list[Entry], list[str]]:
    """The entries of a folder of label tracks, or of one track (a ``.txt`` file)."""
    if path.is_file():  # one track: its audio is beside it, or where its export found it
        folder, recorded = _export_of(path)
        tracks = [(path, path.relative_to(folder) if folder else Path(path.name))]
    elif path.is_dir():
        folder, recorded = path, _recorded(path)[0]
        if not (folder / WRITTEN).is_file() and next(folder.rglob("*.txt"), None) is None:
            raise FormatError(f"{folder}: no label tracks (<audio file name>.txt) in it")
        tracks = [(track, track.relative_to(folder)) for track in sorted(folder.rglob("*.txt"))]
    else:
        raise FormatError(f"{path}: Audacity labels are a label track (.txt) or a folder of them")
    here = "tracks' own folder" if path.is_dir() else "track's own folder"
    root = Path(audio_root) if audio_root else Path(recorded) if recorded else \
        (folder or path.parent)
    whose = ("the audio root given: is the audio there?" if audio_root else
             "where the tracks' export found the audio: give the audio root if it moved"
             if recorded else f"the {here}, as no audio root was given")
    entries, problems = [], []
    for track, relative in tracks:
        try:
            audio = _audio_of(track, root / relative)
        except FormatError as error:
            problems.append(str(error))
            continue
        found, more = _track(track, audio)
        for entry in found:
            entry.named_by = f"the label track {track}, looked for under {root}, {whose}"
        entries += found
        problems += more
    return entries, problems


def _export_of(track: Path) -> tuple[Path | None, str | None]:
    """The folder of the export by hover-audio that wrote ``track``, and the audio root
    its record names (None, None: not one of an export's tracks)."""
    for folder in track.absolute().parents:
        if (folder / WRITTEN).is_file():
            root, written = _recorded(folder)
            listed = track.absolute().relative_to(folder).as_posix() in {
                Path(line).as_posix() for line in written}
            return (folder, root) if listed else (None, None)
    return None, None


def _audio_of(track: Path, place: Path) -> str:
    """The audio file a track at ``place`` (under the audio root) is named after: its name
    without ``.txt`` (``take 1.wav.txt``), or, without an audio suffix (``take 1.txt``), the
    one audio file of that name beside it (``take 1.wav``)."""
    named = place.with_suffix("")
    if named.is_file() or named.suffix.lower() in AUDIO_SUFFIXES:
        return str(named)  # (one that is not there is named once, by read_file)
    found = [p for p in sorted(named.parent.glob(glob.escape(named.name) + ".*"))
             if p.suffix.lower() in AUDIO_SUFFIXES]
    if len(found) == 1:
        return str(found[0])
    if found:
        raise FormatError(f"{track}: {len(found)} audio files are named like it in "
                          f"{named.parent} ({', '.join(p.name for p in found)}): name it after "
                          f"its audio file ('{found[0].name}.txt')")
    raise FormatError(f"{track}: no audio file named after it: no {named.name}.* (wav, flac, "
                      f"...) in {named.parent}; name it after its audio file ('take 1.wav.txt') "
                      "or give the audio's folder as the audio root")


def _track(track: Path, audio: str) -> tuple[list[Entry], list[str]]:
    """The entries of one label track whose audio is ``audio``, and its problems."""
    lengths: list = []  # the audio's seconds, read once, when a point label needs them

    def length() -> float | None:
        if not lengths:  # (a file that is not there is named once, by read_file)
            found = probe(audio) if Path(audio).is_file() else None
            lengths.append(found.duration if found else None)
        return lengths[0]

    entries, problems, points, padded = [], [], [], []
    # (a byte-order mark, as some editors write, is no part of the first time; the
    # format is recognised past it too)
    for number, line in enumerate(track.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip() or line.startswith("\\"):  # a spectral selection's line
            continue
        where = f"{track}, line {number}"
        parts = line.split("\t")
        try:
            entry, widened = _label(where, audio, parts, length)
        except ValueError as error:
            problems.append(str(error) if isinstance(error, FormatError)
                            else f"{where}: {error}")
            continue
        if widened:
            points.append(f"{number} ({entry.start:g}-{entry.end:g} s)")
        if entry.label != parts[2]:
            padded.append(str(number))
        entries.append(entry)
    if points:  # (read, not left out: a note)
        problems.append(Note(f"{track}: point label(s) on line(s) {', '.join(points)} "
                             f"read as {POINT_WIDTH:g} s ranges centred on the point; "
                             "widen them in Audacity for other lengths"))
    return entries, problems + padded_note(str(track), "label", padded)


def _label(where: str, audio: str, parts: list[str], length: Callable[[], float | None]
           ) -> tuple[Entry, bool]:
    """The entry of one label line, and whether it was a point label widened to a range.

    A point label at 0 is a whole-file label; elsewhere it becomes :data:`POINT_WIDTH`
    seconds centred on the point, clipped to ``[0, length()]`` (the file's seconds, None
    when unknown; asked only then).
    """
    if len(parts) < 3 or not parts[2].strip():
        raise FormatError(f"{where}: expected start<TAB>end<TAB>label")
    label = parts[2].strip()
    start, end = float(parts[0]), float(parts[1])
    if start == end == 0.0:
        return Entry(audio, label=label, where=where), False
    widened = start == end and start > 0  # an event marked with a point label
    if widened:
        end = start + POINT_WIDTH / 2
        seconds = length()
        if seconds is not None and start <= seconds:  # (past the end: reported as such)
            end = min(seconds, end)
        start = max(0.0, start - POINT_WIDTH / 2)
    start, end = checked_span(where, start, end)
    return Entry(audio, start, end, label=label, where=where), widened


def _local(file: str) -> bool:
    """Whether a clip's file is a local one (a label track names it by its path)."""
    try:
        return local_path(file) is not None
    except SourceError:  # (a scheme we do not read: not local either)
        return False
