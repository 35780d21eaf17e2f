"""Encord-style range classifications: per file, classifications over millisecond ranges.

``[{"file": path, "classifications": [{"name": "label", "answer": label,
"ranges": [[start_ms, end_ms]], "subset", "transcript", "channel", "meta"}]}]``
(1 frame = 1 ms; no ``ranges`` = the whole file). Extra fields carry what the
format has no field for.
"""
from __future__ import annotations

import json
from pathlib import Path

from .entries import Entry, FormatError, checked_span, file_of, write_text

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


def read(path: Path) -> tuple[list[Entry], list[str]]:
    entries, problems = [], []
    for at, item in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        where = f"{path}, file {at}"
        try:
            if not isinstance(item, dict):
                raise FormatError(f"{where}: an object per file")
            audio = file_of(f"{where}, field 'file'", item.get("file"))
            for number, found in enumerate(item.get("classifications") or []):
                field = f"{where}, classifications[{number}]"
                if not isinstance(found, dict) or not found.get("answer"):
                    raise FormatError(f"{field}: needs an 'answer'")
                ranges = found.get("ranges") or [None]
                for span in ranges:
                    start = end = None
                    if span is not None:
                        if not isinstance(span, (list, tuple)) or len(span) != 2:
                            raise FormatError(f"{field}: a range is [start_ms, end_ms]")
                        start, end = checked_span(field, span[0] / 1000, span[1] / 1000)
                    channel = found.get("channel")
                    entries.append(Entry(audio, start, end,
                                         None if channel is None else int(channel),
                                         label=str(found["answer"]),
                                         subset=found.get("subset", "raw"),
                                         transcript=found.get("transcript") or "",
                                         extra=dict(found.get("meta") or {})))
        except (FormatError, TypeError) as error:
            problems.append(str(error) if isinstance(error, FormatError)
                            else f"{where}: {error}")
    return entries, problems
