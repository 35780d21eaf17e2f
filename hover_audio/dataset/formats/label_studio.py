"""Label Studio JSON tasks, and the labeling config that matches them.

One task per file: ``{"data": {"audio": path, ...}, "annotations": [{"result": [...]}]}``.
A whole-file label is a ``choices`` result, a range a ``labels`` region (``value.start``,
``value.end`` in seconds; ``value.channel`` is read as a channel only in a task where some
region has channel 1 or more: Label Studio gives every region 0 unless its view splits
the channels), a transcript a ``textarea`` result (per
region when it has the region's ``id``). A region's subset and user columns, which
Label Studio has no field for, ride in ``data.hover_audio_regions[id]``; the whole
file's in ``data`` itself (``subset`` and the user's columns).
"""
from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ...audio.decode import probe
from ..schema import ABSTAIN
from .entries import Entry, FormatError, checked_span, file_of, write_text

SUFFIXES = ()  # .json is shared: chosen by content (see formats.detect)
AUDIO, CHOICES, REGIONS, TEXT = "audio", "label", "region", "transcript"


def config(labels) -> str:
    """The ``<View>`` labeling config of the tasks :func:`write` makes."""
    options = "".join(f"\n    <Choice value={quoteattr(str(v))}/>" for v in labels)
    regions = "".join(f"\n    <Label value={quoteattr(str(v))}/>" for v in labels)
    return f"""<View>
  <Audio name="{AUDIO}" value="${AUDIO}"/>
  <Choices name="{CHOICES}" toName="{AUDIO}" choice="single">{options}
  </Choices>
  <Labels name="{REGIONS}" toName="{AUDIO}">{regions}
  </Labels>
  <TextArea name="{TEXT}" toName="{AUDIO}" perRegion="true" editable="true"/>
</View>
"""


def write(entries: list[Entry], path: Path) -> Path:
    tasks: dict[str, dict] = {}
    headers = {}  # one header read per file
    for entry in entries:
        task = tasks.setdefault(entry.file, {"data": {AUDIO: entry.file,
                                                      "hover_audio_regions": {}},
                                             "annotations": [{"result": []}]})
        results = task["annotations"][0]["result"]
        if entry.whole and entry.channel is None:
            task["data"].update(entry.extra, subset=entry.subset)
            if entry.label != ABSTAIN:
                results.append({"type": "choices", "from_name": CHOICES, "to_name": AUDIO,
                                "value": {"choices": [entry.label]}})
            if entry.transcript:
                results.append({"type": "textarea", "from_name": TEXT, "to_name": AUDIO,
                                "value": {"text": [entry.transcript]}})
            continue
        region = f"r{len(task['data']['hover_audio_regions'])}"
        value = {"start": entry.start or 0.0, "end": entry.end, "channel": entry.channel or 0,
                 "labels": [entry.label]}
        result = {"id": region, "type": "labels", "from_name": REGIONS, "to_name": AUDIO,
                  "value": value}
        if entry.file not in headers:
            headers[entry.file] = probe(entry.file)
        if headers[entry.file] is not None:  # the file's length (Label Studio's own field)
            result["original_length"] = round(headers[entry.file].duration, 3)
        results.append(result)
        if entry.transcript:
            results.append({"id": region, "type": "textarea", "from_name": TEXT,
                            "to_name": AUDIO, "value": {"text": [entry.transcript]}})
        task["data"]["hover_audio_regions"][region] = {
            "subset": entry.subset, "extra": entry.extra, "whole": entry.whole,
            "channel": entry.channel}
    text = json.dumps(list(tasks.values()), ensure_ascii=False, indent=1)
    return write_text(path, text)


def read(path: Path) -> tuple[list[Entry], list[str]]:
    tasks = json.loads(path.read_text(encoding="utf-8"))
    entries, problems = [], []
    for at, task in enumerate(tasks):
        where = f"{path}, task {at}"
        try:
            entries += _task(where, task)
        except FormatError as error:
            problems.append(str(error))
    return entries, problems


def _task(where: str, task) -> list[Entry]:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise FormatError(f"{where}: a task needs a 'data' object")
    data = dict(task["data"])
    audio = file_of(f"{where}, data.{AUDIO}", data.pop(AUDIO, None))
    regions_meta = data.pop("hover_audio_regions", {}) or {}
    subset = data.pop("subset", "raw")
    annotations = task.get("annotations") or task.get("completions") or []
    results = annotations[-1].get("result", []) if annotations else []
    whole = Entry(audio, subset=subset, extra=data)
    regions, texts = {}, {}
    for number, result in enumerate(results):
        field, value = f"{where}, result {number}", result.get("value") or {}
        kind = result.get("type")
        if kind == "choices" and value.get("choices"):
            whole.label = str(value["choices"][0])
        elif kind == "textarea" and value.get("text"):
            texts[result.get("id")] = " ".join(map(str, value["text"]))
        elif kind == "labels":
            if not value.get("labels"):
                raise FormatError(f"{field}: a region needs value.labels")
            regions[result.get("id") or f"#{number}"] = (field, value)
    whole.transcript = texts.pop(None, "")
    out = [whole] if (whole.label != ABSTAIN or whole.transcript or whole.extra
                      or subset != "raw") else []
    # Label Studio gives every region a channel, 0 unless its Audio view splits the
    # channels (splitchannels="true"): a 0 names a channel only beside others that do not
    split = any(_channel(value) for _, value in regions.values())
    for region, (field, value) in regions.items():
        extra = regions_meta.get(region, {})
        channel = extra.get("channel", _channel(value) if split else None)
        start = end = None  # a whole channel (our extension) has no range
        if not extra.get("whole"):
            start, end = checked_span(field, value.get("start"), value.get("end"))
        out.append(Entry(audio, start, end, None if channel is None else int(channel),
                         label=str(value["labels"][0]), subset=extra.get("subset", "raw"),
                         transcript=texts.get(region, ""), extra=dict(extra.get("extra", {}))))
    return out


def _channel(value: dict) -> int | None:
    """The channel a Label Studio region names (None: none, or not an index)."""
    channel = value.get("channel")
    try:
        return None if channel is None or isinstance(channel, bool) else int(channel)
    except (TypeError, ValueError):
        return None
