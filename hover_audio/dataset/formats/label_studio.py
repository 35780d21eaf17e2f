"""Label Studio JSON tasks, and the labeling config that matches them.

One task per file: ``{"data": {"audio": path, ...}, "annotations": [{"result": [...]}]}``.
A whole-file label is a ``choices`` result, a range a ``labels`` region (``value.start``,
``value.end`` in seconds; ``value.channel`` is read as a channel only in a task where some
region has channel 1 or more: Label Studio gives every region 0 unless its view splits
the channels), a transcript a ``textarea`` result (per region when it has the region's
``id``). A region's subset and user columns, which Label Studio has no field for, ride in
``data.hover_audio_regions[id]``; the whole file's in ``data`` itself (``subset`` and the
user's columns). A task with no label has no ``annotations`` (Label Studio counts a task
with one as labelled); an unlabelled range, or a whole channel of a file whose length
cannot be read, is kept in ``data.hover_audio_regions`` only (``"unshown": true``).

Read (Label Studio's JSON export, Export > JSON):

- the audio from ``data.audio`` (a task without it is reported, naming its data keys);
  Label Studio's own URLs, ``/data/local-files/?d=PATH`` (local files storage) and
  ``/data/upload/N/NAME`` (an uploaded file), are looked for on disk (:func:`local_file`).
- of a task's annotations, those with ``"was_cancelled": true`` (skipped) are passed
  over and the latest of the others (``updated_at``, else ``created_at``, else the
  last listed) is read; a task whose annotations were all cancelled, or that has only
  ``predictions``, is a :class:`~.entries.Note` (nothing to import, nothing lost).
- a region (or choice) with several labels keeps them all: the first listed is the row's
  label, the others its ``tags`` (a row has one label and a set of tags; one row per
  label cannot be, as the rows would share a key). A label holding ``;`` cannot be a
  tag: it is reported. A ``choices`` result with a region's ``id`` adds to that
  region's labels.
- a ``textarea`` tied to no region (no ``id``, or an ``id`` no region has, and no
  ``start``/``end``) is the whole file's transcript; one with ``start``/``end`` but no
  labelled region is an unlabelled range with that transcript.
- Label Studio's CSV and JSON-MIN exports (a row per task, an ``annotation_id`` column)
  leave out channels and per-region text: they are refused with a message saying to
  export as JSON (:func:`export_hint` tells such a table).
"""
from __future__ import annotations

import csv
import json
import os
import posixpath
import re
import urllib.parse
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ..schema import ABSTAIN
from .entries import (Entry, FormatError, Lengths, Note, add_tags, channel_of, checked_span,
                      file_of, subset_of, write_text)

SUFFIXES = ()  # .json is shared: chosen by content (see formats.detect)
AUDIO, CHOICES, REGIONS, TEXT = "audio", "label", "region", "transcript"
EXPORT_COLUMNS = ("annotation_id", "annotator", "lead_time", "created_at", "updated_at")
LOCAL_FILES = "data/local-files"  # Label Studio's URL of a file under its document root
UPLOAD = re.compile(r"(?:^|/)data/upload/(?P<project>\d+)/(?P<name>[^/]+)$")
UNSHOWN = {"unshown": True}  # a row kept in data.hover_audio_regions only, for hover-audio
MIN_EXPORT = ("this looks like a Label Studio CSV/JSON-MIN export, which leaves out what "
              "hover-audio reads; export the project as JSON (Export > JSON) and import that")


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
    lengths, unplaced = Lengths(), 0  # (one header read per file)
    for entry in entries:
        task = tasks.setdefault(entry.file, {"data": {AUDIO: entry.file,
                                                      "hover_audio_regions": {}}})
        results = task.setdefault("annotations", [{"result": []}])[0]["result"]
        if entry.whole and entry.channel is None:
            task["data"].update(entry.extra, subset=entry.subset)
            if entry.label != ABSTAIN:
                results.append({"type": "choices", "from_name": CHOICES, "to_name": AUDIO,
                                "value": {"choices": [entry.label]}})
            if entry.transcript:
                results.append({"type": "textarea", "from_name": TEXT, "to_name": AUDIO,
                                "value": {"text": [entry.transcript]}})
            continue
        regions = task["data"]["hover_audio_regions"]
        region, length = f"r{len(regions)}", lengths(entry.file)
        start, end = (0.0, length) if entry.whole else (entry.start, entry.end)
        regions[region] = {"subset": entry.subset, "extra": entry.extra, "whole": entry.whole,
                           "channel": entry.channel}
        if entry.label == ABSTAIN or not end:  # not a labelled region of Label Studio's
            regions[region].update(UNSHOWN, label=entry.label, start=start, end=end,
                                   transcript=entry.transcript)
            unplaced += entry.label != ABSTAIN
            continue
        result = {"id": region, "type": "labels", "from_name": REGIONS, "to_name": AUDIO,
                  "value": {"start": start, "end": end, "channel": entry.channel or 0,
                            "labels": [entry.label]}}
        if length is not None:  # the file's length (Label Studio's own field)
            result["original_length"] = length
        results.append(result)
        if entry.transcript:
            results.append({"id": region, "type": "textarea", "from_name": TEXT,
                            "to_name": AUDIO, "value": {"text": [entry.transcript]}})
    for task in tasks.values():  # a task with an annotation counts as labelled in Label
        if not task["annotations"][0]["result"]:  # Studio: none for one with no labels
            del task["annotations"]
    if unplaced:
        import warnings

        warnings.warn(f"{unplaced} row(s) of a whole channel of a file whose length cannot be "
                      "read here (a URL, or a file not there) kept in data.hover_audio_regions, "
                      "not as regions (a region needs an end): Label Studio does not show "
                      "them; hover-audio reads them back", stacklevel=3)
    text = json.dumps(list(tasks.values()), ensure_ascii=False, indent=1)
    return write_text(path, text)


def export_hint(table) -> str | None:
    """:data:`MIN_EXPORT` when ``table`` (a DataFrame, or its column names) looks like a
    Label Studio CSV/JSON-MIN export rather than a clip table; None otherwise.

    The telltales: three or more of the export's own columns (:data:`EXPORT_COLUMNS`;
    one alone, such as a user's ``annotator`` column, is not enough), or (a CSV) a cell
    holding a list of regions as JSON.
    """
    columns = {str(name) for name in getattr(table, "columns", table)}
    if len(columns & set(EXPORT_COLUMNS)) >= 3:
        return MIN_EXPORT
    if hasattr(table, "columns"):
        for name in table.columns:
            cells = [v for v in table[name].head(20) if isinstance(v, str)]
            if any(_region_list(v) for v in cells):
                return MIN_EXPORT
    return None


def _region_list(text: str) -> bool:
    if not text.lstrip().startswith("[{"):
        return False
    try:
        found = json.loads(text)
    except ValueError:
        return False
    return isinstance(found, list) and any(
        isinstance(r, dict) and ("labels" in r or "choices" in r) and "start" in r for r in found)


def read(path: Path, audio_root: Path | None = None) -> tuple[list[Entry], list[str]]:
    """The entries of a JSON export; ``audio_root``: Label Studio's document root for
    local files (default: see :func:`local_file`)."""
    text = path.read_text(encoding="utf-8")
    try:
        tasks = json.loads(text)
    except ValueError as error:
        if export_hint(next(csv.reader([text.split("\n", 1)[0]]), [])):
            raise FormatError(f"{path}: {MIN_EXPORT}") from None
        raise FormatError(f"{path}: not Label Studio JSON ({error}); export the project as JSON "
                          "(Export > JSON) and import that") from None
    if isinstance(tasks, dict) and "data" in tasks:  # one task (a task_id.json of storage)
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise FormatError(f"{path}: not Label Studio JSON: expected a list of tasks")
    records = [task for task in tasks if isinstance(task, dict)]
    if records and not any("data" in task for task in records) and export_hint(
            set().union(*records)):
        raise FormatError(f"{path}: {MIN_EXPORT}")
    entries, problems = [], []
    for at, task in enumerate(tasks):
        where = f"{path}, task {at}"  # its place in the file, and Label Studio's id
        if isinstance(task, dict) and isinstance(task.get("id"), (int, str)):
            where += f" (id {task['id']})"
        try:
            found, more = _task(where, task, path.parent, audio_root)
            entries += found
            problems += more
        except FormatError as error:
            problems.append(str(error))
    return entries, problems


def local_file(where: str, value, home: Path, audio_root: Path | None = None
               ) -> tuple[object, str]:
    """The file a task's ``data.audio`` names, and how it was looked for (said when it is
    not there); a value that is not one of Label Studio's own file URLs is returned as
    it is.

    - ``/data/local-files/?d=PATH`` (local files storage; with or without the host):
      ``PATH``, URL-decoded, under the document root: ``audio_root`` when given, else
      the first of ``$LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` (or
      ``$LOCAL_FILES_DOCUMENT_ROOT``), ``home`` (the export's folder) and ``/`` (Label
      Studio's default root) that has it. A ``PATH`` that climbs out of the root
      (``../x.wav``) is an error, as in Label Studio.
    - ``/data/upload/N/NAME`` (a file uploaded to Label Studio, which adds 8 hex digits and
      a dash before the name): under ``audio_root`` (else ``home``) as ``upload/N/NAME``
      (the root is Label Studio's media folder), ``N/NAME``, ``NAME``, or the name
      without the prefix (the folder of the originals).

    Not found, the value stays as it is (and is named as missing).
    """
    if not isinstance(value, str):
        return value, ""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("", "http", "https") or not parts.scheme and Path(value).is_file():
        return value, ""
    route = urllib.parse.unquote(parts.path).strip("/")
    if not parts.scheme and not (value.startswith("/data/") or route == LOCAL_FILES):
        return value, ""  # a path of the user's (with a host, any path: Label Studio
        # may be served under one)
    if route == LOCAL_FILES or route.endswith("/" + LOCAL_FILES):
        asked = urllib.parse.parse_qs(parts.query).get("d")
        relative = posixpath.normpath(asked[0].replace("\\", "/")).lstrip("/") if asked else ""
        if relative in ("", ".", "..") or relative.startswith("../"):
            raise FormatError(f"{where}: {value!r} names no file under Label Studio's "
                              "document root (its d= is empty or climbs out of the root)")
        roots = [audio_root] if audio_root else _document_roots(home)
        said = (f"Label Studio's local file {relative!r}, looked for under "
                f"{', '.join(map(str, roots))}" + (
                    "" if audio_root else ": give the document root as the audio root"))
        places = [Path(root) / relative for root in roots]
    else:
        found = UPLOAD.search(route)
        if found is None:
            return value, ""
        project, name = found.group("project"), found.group("name")
        root = Path(audio_root or home)
        names = [name] + ([name[9:]] if re.match(r"[0-9a-f]{8}-.", name) else [])
        places = [root / "upload" / project / name, root / project / name] + [
            root / each for each in names]
        said = (f"a file uploaded to Label Studio, looked for under {root} as "
                f"{', '.join(str(place.relative_to(root)) for place in places)}: give Label "
                "Studio's media folder, or the folder of the originals, as the audio root")
    for place in places:
        if place.is_file():
            return str(place), said
    return value, said


def _document_roots(home: Path) -> list[Path]:
    """Where Label Studio's local files may be: its document root (from the environment,
    as Label Studio reads it), the export's folder, and ``/`` (Label Studio's default)."""
    roots = [os.environ.get(name) for name in ("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT",
                                               "LOCAL_FILES_DOCUMENT_ROOT")]
    roots = [Path(root) for root in roots if root] + [Path(home).absolute(),
                                                      Path(os.path.abspath(os.sep))]
    return list(dict.fromkeys(roots))


def _latest(where: str, task: dict) -> tuple[list | None, str | None]:
    """The result list of the latest annotation not cancelled, or None and why."""
    name = "annotations" if task.get("annotations") or "completions" not in task else \
        "completions"  # (Label Studio's older name)
    annotations = task.get(name)
    annotations = [] if annotations is None else annotations
    if not isinstance(annotations, list):
        raise FormatError(f"{where}: field {name!r} must be a list of annotations, got "
                          f"{_short(annotations)}")
    for at, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            raise FormatError(f"{where}: {name}[{at}] must be an annotation object, got "
                              f"{_short(annotation)}")
    kept = [(at, a) for at, a in enumerate(annotations) if not a.get("was_cancelled")]
    if annotations and not kept:
        return None, f"{where}: every annotation was cancelled (skipped); nothing imported"
    if not annotations:
        if task.get("predictions"):
            return None, (f"{where}: has predictions only; nothing imported (accept or "
                          "correct them in Label Studio, then export again)")
        return [], None
    _, latest = max(kept, key=lambda pair: (str(pair[1].get("updated_at")
                                                 or pair[1].get("created_at") or ""), pair[0]))
    results = latest.get("result") or []
    if not isinstance(results, list):
        raise FormatError(f"{where}: an annotation's 'result' must be a list")
    return results, None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _task(where: str, task, home: Path, audio_root: Path | None
          ) -> tuple[list[Entry], list[str]]:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise FormatError(f"{where}: a task needs a 'data' object")
    data = dict(task["data"])
    field = f"{where}, data.{AUDIO}"
    if AUDIO not in data:  # (the key is the config's: <Audio value="$audio"/>)
        keys = ", ".join(repr(str(key)) for key in data) or "none"
        raise FormatError(f"{where}: no audio file named: hover-audio reads it from "
                          f"data.{AUDIO} (<Audio value=\"${AUDIO}\"/> in the labeling "
                          f"config); this task's data keys are {keys}")
    audio, named_by = local_file(field, data.pop(AUDIO), home, audio_root)
    audio = file_of(field, audio)
    regions_meta = data.pop("hover_audio_regions", {}) or {}
    regions_meta = regions_meta if isinstance(regions_meta, dict) else {}
    said = "subset" in data  # (a file written unlabelled by hover-audio says its subset)
    subset = subset_of(f"{where}, data.subset", data.pop("subset", None))
    results, why = _latest(where, task)
    if results is None:
        return [], [Note(why)]  # (nothing to import: skipped, or not annotated)
    out, problems = _results(where, audio, data, regions_meta, subset, results, said)
    for entry in out:
        entry.named_by = named_by
    return out, problems


def _results(where: str, audio: str, data: dict, regions_meta: dict, subset: str,
             results: list, said: bool) -> tuple[list[Entry], list[str]]:
    """The entries of an annotation's results (and of the rows only hover-audio keeps)."""
    problems: list[str] = []
    whole = Entry(audio, subset=subset, extra=data, where=where)
    choices, regions, texts = [], {}, []
    for number, result in enumerate(results):
        field = f"{where}, result {number}"
        if not isinstance(result, dict) or not isinstance(result.get("value") or {}, dict):
            problems.append(f"{field}: a result is an object with a 'value' object")
            continue
        value, kind, rid = result.get("value") or {}, result.get("type"), result.get("id")
        if kind == "choices" and value.get("choices"):
            choices.append((rid, [str(choice) for choice in value["choices"]]))
        elif kind == "textarea" and value.get("text"):
            texts.append((rid, value, " ".join(map(str, value["text"]))))
        elif kind == "labels":
            if not value.get("labels"):
                problems.append(f"{field}: a region needs value.labels")
                continue
            regions[rid or f"#{number}"] = (field, value, [str(v) for v in value["labels"]])
    for rid, values in choices:  # a per-region choice adds to its region's labels
        if rid in regions:
            regions[rid][2].extend(values)
        else:
            whole.label = whole.label if whole.label != ABSTAIN else values[0]
            add_tags(where, whole, [v for v in values if v != whole.label], problems)
    transcripts: dict = {}
    for rid, value, text in texts:
        if rid in regions:
            transcripts[rid] = " ".join(filter(None, [transcripts.get(rid), text]))
        elif "start" in value and "end" in value:  # a range with a transcript, no label
            rid = rid or f"#t{len(regions)}"
            regions[rid] = (f"{where}, textarea {rid}", value, [])
            transcripts[rid] = text
        else:  # tied to no region: the whole file's
            whole.transcript = " ".join(filter(None, [whole.transcript, text]))
    out = [whole] if (whole.label != ABSTAIN or whole.transcript or whole.extra
                      or said) else []
    # Label Studio gives every region a channel, 0 unless its Audio view splits the
    # channels (splitchannels="true"): a 0 names a channel only beside others that do not
    split = any(_channel(value) for _, value, _ in regions.values())
    for region, (field, value, labels) in regions.items():
        try:
            out.append(_region(field, audio, value, labels, split,
                               regions_meta.get(region, {}), transcripts.get(region, ""),
                               problems))
        except FormatError as error:
            problems.append(str(error))
    for region, meta in regions_meta.items():  # rows Label Studio was not shown
        if isinstance(meta, dict) and meta.get("unshown") and region not in regions:
            field = f"{where}, data.hover_audio_regions.{region}"
            try:
                out.append(_region(field, audio, meta, [str(meta.get("label") or ABSTAIN)],
                                   False, meta, str(meta.get("transcript") or ""), problems))
            except FormatError as error:
                problems.append(str(error))
    return out, problems


def _region(field: str, audio: str, value: dict, labels: list[str], split: bool,
            meta, transcript: str, problems: list[str]) -> Entry:
    """A region's entry: its first label is the label, the others its tags."""
    meta = meta if isinstance(meta, dict) else {}
    channel = channel_of(field, meta["channel"]) if "channel" in meta else (
        _channel(value) if split else None)
    start = end = None  # a whole channel (our extension) has no range
    if not meta.get("whole"):
        start, end = checked_span(field, value.get("start"), value.get("end"))
    entry = Entry(audio, start, end, channel, label=labels[0] if labels else ABSTAIN,
                  subset=subset_of(f"{field}, subset", meta.get("subset")),
                  transcript=transcript, extra=dict(meta.get("extra") or {}), where=field)
    add_tags(field, entry, labels[1:], problems)
    return entry


def _channel(value: dict) -> int | None:
    """The channel a Label Studio region names (None: none, or not an index)."""
    channel = value.get("channel")
    try:
        return None if channel is None or isinstance(channel, bool) else int(channel)
    except (TypeError, ValueError):
        return None
