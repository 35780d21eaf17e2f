"""Prodigy JSONL: one audio task per file, its ranges as ``audio_spans``.

Written: ``{"audio": path, "label": whole-file label, "answer": "accept",
"audio_spans": [{"start", "end", "label", "id", ...}], "transcript", "meta": {...}}``;
seconds in spans; the whole file's subset and user columns in ``meta``, a span's in
its own extra fields (``subset``, ``transcript``, ``channel``, ``meta``). Read: ``audio``,
or ``path`` when ``audio`` is missing or the audio itself (a ``data:`` URI); a whole-file
label from ``label`` or a choice task's ``accept`` list; tasks answered
``reject``/``ignore`` keep no label; every span becomes a range row.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..schema import ABSTAIN
from .entries import Entry, FormatError, checked_span, file_of, write_text

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
            entries += _task(where, json.loads(line))
        except json.JSONDecodeError as error:
            problems.append(f"{where}: not JSON ({error.msg})")
        except FormatError as error:
            problems.append(str(error))
    return entries, problems


def _task(where: str, task) -> list[Entry]:
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
    for at, span in enumerate(task.get("audio_spans") or []):
        field = f"{where}, audio_spans[{at}]"
        if not isinstance(span, dict) or not span.get("label"):
            raise FormatError(f"{field}: a span needs a label")
        channel = span.get("channel")
        if span.get("whole"):
            start = end = None
        else:
            start, end = checked_span(field, span.get("start"), span.get("end"))
        out.append(Entry(audio, start, end, None if channel is None else int(channel),
                         label=str(span["label"]) if accepted else ABSTAIN,
                         subset=span.get("subset", "raw"),
                         transcript=span.get("transcript") or "",
                         extra=dict(span.get("meta") or {})))
    return out
