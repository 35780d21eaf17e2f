"""Prodigy JSONL: one audio task per file, its ranges as ``audio_spans``.

Written: ``{"audio": path, "label": whole-file label, "answer": "accept",
"audio_spans": [{"start", "end", "label", "id", ...}], "transcript", "meta": {...}}``;
seconds in spans; the whole file's subset and user columns in ``meta``, a span's in
its own extra fields (``subset``, ``transcript``, ``channel``, ``meta``). A row of a whole
channel is a span over the whole file (``0`` to its length, from its header; ``"whole":
true``); where the length cannot be read (a URL, a file not there), such rows go to the
task's ``hover_audio_channels`` list instead (a span needs an end), and :func:`write`
warns. A task with nothing labelled has no ``answer``.

Read: the file from ``audio``, else ``video`` (Prodigy's audio interfaces take either),
else ``path`` (beside audio inlined as a ``data:`` URI); a whole-file label from
``label``, or a choice task's ``accept`` list of option ids, each read as its option's
``text`` (the first accepted is the label, the others its tags); every span becomes a
range row. A task answered ``reject`` or ``ignore`` holds no label: it is skipped, with
a :class:`~.entries.Note`. A line with a bad field (a ``channel`` that is not a number,
a range shorter than a millisecond, an unknown subset, an ``accept`` id no option has)
is a problem naming the line and field; the other lines are read.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..schema import ABSTAIN
from .entries import (Entry, FormatError, Lengths, Note, add_tags, channel_of, checked_span,
                      file_of, subset_of, write_text)

SUFFIXES = (".jsonl",)
MEDIA = ("audio", "video")  # the fields Prodigy's audio interfaces play
CHANNELS = "hover_audio_channels"  # whole-channel rows of files of unknown length
ANSWERS = ("accept", "reject", "ignore")


def write(entries: list[Entry], path: Path) -> Path:
    tasks: dict[str, dict] = {}
    lengths, unplaced = Lengths(), 0
    for entry in entries:
        task = tasks.setdefault(entry.file, {"audio": entry.file, "audio_spans": [],
                                             "meta": {}})
        if entry.label != ABSTAIN:
            task["answer"] = "accept"
        if entry.whole and entry.channel is None:
            if entry.label != ABSTAIN:
                task["label"] = entry.label
            if entry.transcript:
                task["transcript"] = entry.transcript
            task["meta"].update(entry.extra, subset=entry.subset)
            continue
        start, end = entry.start, entry.end
        if entry.whole:  # a channel of the whole file: a span over all of it
            start, end = 0.0, lengths(entry.file)
            if not end:
                task.setdefault(CHANNELS, []).append(
                    {"label": entry.label, "subset": entry.subset, **entry.optional_fields()})
                unplaced += 1
                continue
        span = {"start": start, "end": end, "label": entry.label, "id": entry.key,
                "subset": entry.subset}
        if entry.whole:
            span["whole"] = True  # read back as the channel, not as a range
        span.update(entry.optional_fields())
        task["audio_spans"].append(span)
    if unplaced:
        warnings.warn(f"{unplaced} row(s) of a whole channel of a file whose length cannot be "
                      f"read here (a URL, or a file not there) written to their task's "
                      f"{CHANNELS!r} field, not as audio_spans (a span needs an end): Prodigy "
                      "does not show them; hover-audio reads them back", stacklevel=3)
    lines = [json.dumps(task, ensure_ascii=False) for task in tasks.values()]
    return write_text(path, "\n".join(lines) + "\n")


def read(path: Path, audio_root: Path | None = None) -> tuple[list[Entry], list[str]]:
    """The entries of a JSONL file (``audio_root``: used by the caller, for relative paths)."""
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


def _media(where: str, task: dict) -> str:
    """The file a task plays: ``audio``, else ``video``, else ``path`` (beside inlined
    audio); a task naming none is an error that names the fields it has."""
    for name in MEDIA:
        value = task.get(name)
        if isinstance(value, str) and value.strip() and not value.startswith("data:"):
            return file_of(f"{where}, field '{name}'", value)
    if "path" in task:  # inlined audio (Prodigy's loaders): its file
        return file_of(f"{where}, field 'path'", task["path"])
    for name in MEDIA:
        if name in task:
            return file_of(f"{where}, field '{name}'", task[name])
    fields = ", ".join(repr(str(name)) for name in task) or "none"
    raise FormatError(f"{where}: no audio file named: a task names it in 'audio' (or 'video', "
                      f"or 'path' beside inlined audio); this task's fields are {fields}")


def _choices(where: str, task: dict) -> list[str]:
    """The labels a choice task's ``accept`` list names: each option's ``text`` (an
    ``accept`` list without ``options`` holds the labels themselves)."""
    accept = task.get("accept")
    if accept is None:
        return []
    if not isinstance(accept, list):
        raise FormatError(f"{where}: field 'accept' must be a list of option ids, got {accept!r}")
    options = task.get("options")
    if options is None:
        return [str(value) for value in accept if str(value).strip()]
    if not isinstance(options, list):
        raise FormatError(f"{where}: field 'options' must be a list of {{\"id\", \"text\"}}")
    texts = {str(option["id"]): str(option.get("text") or option["id"])
             for option in options if isinstance(option, dict) and "id" in option}
    unknown = [value for value in accept if str(value) not in texts]
    if unknown:
        raise FormatError(f"{where}: field 'accept' names option id(s) "
                          f"{', '.join(map(repr, unknown))}, which 'options' does not have")
    return [texts[str(value)] for value in accept if texts[str(value)].strip()]


def _task(where: str, task) -> tuple[list[Entry], list[str]]:
    """A task's entries, and the problems of its spans (a bad span leaves the others)."""
    if not isinstance(task, dict):
        raise FormatError(f"{where}: a task is a JSON object")
    audio = _media(where, task)
    answer = task.get("answer", "accept")
    if answer in ("reject", "ignore"):
        return [], [Note(f"{where}: answered {answer!r} in Prodigy, which is not a label: "
                         "skipped")]
    if answer not in ANSWERS:
        raise FormatError(f"{where}: field 'answer' must be one of {', '.join(ANSWERS)}, "
                          f"got {answer!r}")
    given = task.get("meta")
    if given is not None and not isinstance(given, dict):
        raise FormatError(f"{where}: field 'meta' must be an object")
    meta = dict(given or {})
    subset = subset_of(f"{where}, meta.subset", meta.pop("subset", None))
    labels = _choices(where, task)
    label = labels[0] if labels else task.get("label")
    out, problems = [], []
    if label is not None or task.get("transcript") or meta or "subset" in (given or {}):
        whole = Entry(audio, label=str(label) if label else ABSTAIN, subset=subset,
                      transcript=task.get("transcript") or "", extra=meta, where=where)
        add_tags(where, whole, labels[1:], problems)
        out.append(whole)
    for at, span in enumerate(task.get("audio_spans") or []):
        field = f"{where}, audio_spans[{at}]"
        try:
            out.append(_span(field, audio, span))
        except FormatError as error:
            problems.append(str(error))
    for at, row in enumerate(task.get(CHANNELS) or []):
        field = f"{where}, {CHANNELS}[{at}]"
        try:
            out.append(_span(field, audio, dict(row, whole=True) if isinstance(row, dict)
                             else row))
        except FormatError as error:
            problems.append(str(error))
    return out, problems


def _span(field: str, audio: str, span) -> Entry:
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
    return Entry(audio, start, end, channel, label=str(span["label"]),
                 subset=subset_of(f"{field}, field 'subset'", span.get("subset")),
                 transcript=span.get("transcript") or "", extra=extra, where=field)
