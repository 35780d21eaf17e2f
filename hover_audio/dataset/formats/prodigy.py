"""Prodigy JSONL: one audio task per file, its ranges as ``audio_spans``.

Written: ``{"audio": path, "label": whole-file label, "answer": "accept",
"audio_spans": [{"start", "end", "label", "id", ...}], "transcript", "meta": {...}}``;
seconds in spans; the whole file's subset and user columns in ``meta``, a span's in
its own extra fields (``subset``, ``transcript``, ``channel``, ``meta``). Read: ``audio``,
or ``path`` when ``audio`` is missing or the audio itself (a ``data:`` URI); a whole-file
label from ``label`` or a choice task's ``accept`` list; tasks answered
``reject``/``ignore`` keep no label; every span becomes a range row. A line with a bad
field (a ``channel`` that is not a number, a range shorter than a millisecond) is a
problem naming the line and field; the other lines are read.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..schema import ABSTAIN
from .entries import Entry, FormatError, channel_of, checked_span, file_of, write_text

SUFFIXES = (".jsonl",)


def write(entries: list[Entry], path: Path) -> Path:
    tasks: dict[str, dict] = {}
    for entry in entries:
        task = tasks.setdefault(entry.file, {"audio": entry.file, "answer": "accept",
                                             "audio_spans": [], "meta": {}})
        if entry.whole and entry.channel is None:
            if entry.label != ABSTAIN:
                task["label"] = entry.label
            if entry.transcript:
                task["transcript"] = entry.transcript
            task["meta"].update(entry.extra, subset=entry.subset)
            continue
        span = {"start": entry.start if entry.start is not None else 0.0,
                "end": entry.end, "label": entry.label,
                "id": f"{entry.file}#{entry.start},{entry.end},{entry.channel}",
                "subset": entry.subset}
        if entry.whole:
            span["whole"] = True  # a channel of the whole file
        span.update(entry.optional_fields())
        task["audio_spans"].append(span)
    lines = [json.dumps(task, ensure_ascii=False) for task in tasks.values()]
    return write_text(path, "\n".join(lines) + "\n")


def read(path: Path) -> tuple[list[Entry], list[str]]:
    entries, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            found, more = _task(where, json.loads(line))
            entries += found
            problems += more
        except json.JSONDecodeError as error:
            problems.append(f"{where}: not JSON ({error.msg})")
        except FormatError as error:
            problems.append(str(error))
        except (TypeError, ValueError, AttributeError) as error:  # a field of the wrong kind
            problems.append(f"{where}: {error}")
    return entries, problems


def _task(where: str, task) -> tuple[list[Entry], list[str]]:
    """A task's entries, and the problems of its spans (a bad span leaves the others)."""
    if not isinstance(task, dict):
        raise FormatError(f"{where}: a task is a JSON object")
    audio, field = task.get("audio"), "audio"
    if "path" in task and (not isinstance(audio, str) or audio.startswith("data:")):
        audio, field = task["path"], "path"  # inlined audio (Prodigy's loaders): its file
    audio = file_of(f"{where}, field '{field}'", audio)
    meta = dict(task.get("meta") or {})
    subset = meta.pop("subset", "raw")
    accepted = task.get("answer", "accept") == "accept"
    label = task.get("label")
    if label is None and isinstance(task.get("accept"), list) and task["accept"]:
        label = str(task["accept"][0])  # a choice task
    out = []
    if label is not None or task.get("transcript") or meta or "subset" in (task.get("meta") or {}):
        out.append(Entry(audio, label=str(label) if label and accepted else ABSTAIN,
                         subset=subset, transcript=task.get("transcript") or "", extra=meta))
    problems = []
    for at, span in enumerate(task.get("audio_spans") or []):
        field = f"{where}, audio_spans[{at}]"
        try:
            out.append(_span(field, audio, span, accepted))
        except FormatError as error:
            problems.append(str(error))
    return out, problems


def _span(field: str, audio: str, span, accepted: bool) -> Entry:
    if not isinstance(span, dict) or not span.get("label"):
        raise FormatError(f"{field}: a span needs a label")
    channel = channel_of(field, span.get("channel"))
    if span.get("whole"):
        start = end = None
    else:
        start, end = checked_span(field, span.get("start"), span.get("end"))
    try:
        extra = dict(span.get("meta") or {})
    except (TypeError, ValueError):
        raise FormatError(f"{field}: field 'meta' must be an object") from None
    return Entry(audio, start, end, channel, label=str(span["label"]) if accepted else ABSTAIN,
                 subset=span.get("subset", "raw"), transcript=span.get("transcript") or "",
                 extra=extra)
