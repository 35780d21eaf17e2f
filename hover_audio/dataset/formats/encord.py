"""Encord-style range classifications: per file, classifications over millisecond ranges.

``[{"file": path, "classifications": [{"name": "label", "answer": label,
"ranges": [[start_ms, end_ms]], "subset", "transcript", "channel", "meta"}]}]``
(1 frame = 1 ms; no ``ranges`` = the whole file). Extra fields carry what the
format has no field for. Ranges are always read as milliseconds (the units are not
guessed): a range that is less than a millisecond long once rounded (``[1000, 1000.4]``,
or seconds written where milliseconds belong, ``[1.0, 1.4]``) is reported, not imported.
A bad field (a ``channel`` that is not a number, an unknown ``subset``) is a problem
naming the file entry, classification and field; the rest is read.
"""
from __future__ import annotations

import json
from pathlib import Path

from .entries import Entry, FormatError, channel_of, checked_span, file_of, subset_of, write_text

SUFFIXES = ()  # .json is shared: chosen by content (see formats.detect)


def write(entries: list[Entry], path: Path) -> Path:
    files: dict[str, dict] = {}
    for entry in entries:
        item = files.setdefault(entry.file, {"file": entry.file, "classifications": []})
        classification = {"name": "label", "answer": entry.label, "subset": entry.subset,
                          "ranges": [] if entry.whole else
                          [[round(entry.start * 1000), round(entry.end * 1000)]]}
        classification.update(entry.optional_fields())
        item["classifications"].append(classification)
    text = json.dumps(list(files.values()), ensure_ascii=False, indent=1)
    return write_text(path, text)


def read(path: Path, audio_root: Path | None = None) -> tuple[list[Entry], list[str]]:
    """The entries of a file (``audio_root``: used by the caller, for relative paths)."""
    entries, problems = [], []
    items = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(items, list):
        raise FormatError(f"{path}: expected a list of files ([{{\"file\": ..., "
                          f"\"classifications\": [...]}}])")
    for at, item in enumerate(items):
        where = f"{path}, file {at}"
        try:
            if not isinstance(item, dict):
                raise FormatError(f"{where}: an object per file")
            audio = file_of(f"{where}, field 'file'", item.get("file"))
            found = item.get("classifications") or []
            if not isinstance(found, list):
                raise FormatError(f"{where}: field 'classifications' must be a list")
        except FormatError as error:
            problems.append(str(error))
            continue
        for number, classification in enumerate(found):
            field = f"{where}, classifications[{number}]"
            try:
                entries += _classification(field, audio, classification, problems)
            except FormatError as error:  # the classification as a whole
                problems.append(str(error))
    return entries, problems


def _classification(field: str, audio: str, found, problems: list[str]) -> list[Entry]:
    """The entries of one classification; a bad range is a problem, the others are read."""
    if not isinstance(found, dict) or not found.get("answer"):
        raise FormatError(f"{field}: needs an 'answer'")
    channel = channel_of(field, found.get("channel"))
    subset = subset_of(f"{field}, field 'subset'", found.get("subset"))
    meta = found.get("meta") or {}
    if not isinstance(meta, dict):
        raise FormatError(f"{field}: field 'meta' must be an object")
    out = []
    for at, span in enumerate(found.get("ranges") or [None]):
        start = end = None
        if span is not None:
            if not isinstance(span, (list, tuple)) or len(span) != 2:
                problems.append(f"{field}, ranges[{at}]: a range is [start_ms, end_ms], "
                                f"got {span!r}")
                continue
            try:  # milliseconds (1 frame = 1 ms); one that rounds to nothing is reported
                start, end = checked_span(f"{field}, ranges[{at}] (ms)",
                                          *(_seconds(value) for value in span))
            except FormatError as error:
                problems.append(str(error))
                continue
        out.append(Entry(audio, start, end, channel, label=str(found["answer"]),
                         subset=subset, transcript=found.get("transcript") or "",
                         extra=dict(meta), where=field if span is None else
                         f"{field}, ranges[{at}]"))
    return out


def _seconds(milliseconds):
    """Seconds of a millisecond value; what is not a number is passed on for the check."""
    try:
        return float(milliseconds) / 1000
    except (TypeError, ValueError):
        return milliseconds
