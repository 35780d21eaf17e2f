"""Reading other tools' files as they really write them: Raven, Label Studio, Audacity,
Prodigy and Encord.

Each test writes the file a tool (or a user of it) writes to ``tmp_path`` and reads it
back: quotes in Raven text, Raven's 1-based channels and single-file tables, Label
Studio's cancelled annotations, multi-label regions, free transcripts, prediction-only
tasks and its CSV/JSON-MIN exports, Audacity point labels, bad fields in one record,
and ranges shorter than a millisecond. A bad record is a problem naming the file, line
or record and field; the rest is read.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile

from . import audio_corpus as corpus
from hover_audio import AudioDataset
from hover_audio.dataset.formats import FormatError, read_file
from hover_audio.dataset.formats.audacity import POINT_WIDTH
from hover_audio.dataset.formats.label_studio import export_hint
from hover_audio.dataset.table_files import read_table

HEADER = ("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\t"
          "High Freq (Hz)\tBegin Path\tAnnotation\n")


@pytest.fixture()
def audio(tmp_path):
    """A mono file (5 s) and a stereo file (2 s) in ``tmp_path``."""
    corpus.write_tone_wav(tmp_path / "mono.wav", 5.0)
    stereo = np.stack([corpus.tone(440, 2, 16000), corpus.tone(880, 2, 16000)], axis=1)
    soundfile.write(tmp_path / "stereo.wav", stereo, 16000)
    return tmp_path / "mono.wav", tmp_path / "stereo.wav"


def selection(number, channel, begin, end, path, label):
    return f"{number}\tSpectrogram 1\t{channel}\t{begin}\t{end}\t0\t8000\t{path}\t{label}\n"


# -- Raven -------------------------------------------------------------------------------

def test_raven_quotes_in_annotations_are_plain_characters(tmp_path, audio):
    mono, _ = audio
    table = tmp_path / "quotes.txt"
    table.write_text(HEADER + selection(1, 1, 0.5, 1, mono, '"unsure')
                     + selection(2, 1, 1, 2, mono, 'say "hi"') + selection(3, 1, 2, 3, mono, "dog"))
    read, problems = read_file(table)
    assert problems == []
    assert list(read["label"]) == ['"unsure', 'say "hi"', "dog"]
    assert list(read["audio"]) == [f"{mono}#t=0.5,1", f"{mono}#t=1,2", f"{mono}#t=2,3"]


def test_raven_writer_writes_quotes_as_they_are_and_tabs_as_spaces(tmp_path, audio):
    mono, _ = audio
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [f"{mono}#t=1,2", f"{mono}#t=2,3"], "label": ['say "hi"', "owl\tbig"],
        "SUBSET": ["train", "train"]}))
    ds.set_transcript([f"{mono}#t=1,2"], "one\ntwo")
    with pytest.warns(UserWarning, match=r"tabs and line breaks in 2 value\(s\)"):
        out = ds.export(tmp_path / "r.txt", format="raven")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3  # the header and one line per selection: nothing broke a row
    assert '\tsay "hi"\t' in lines[1] and '"say ""hi"""' not in lines[1]  # no CSV quoting
    back, problems = read_file(out)
    assert problems == []
    assert dict(zip(back["label"], back["transcript"])) == {'say "hi"': "one two", "owl big": ""}


def test_raven_channel_n_is_channel_n_minus_1_of_a_multichannel_file(tmp_path, audio):
    mono, stereo = audio
    table = tmp_path / "channels.txt"
    table.write_text(HEADER + selection(1, 1, 0.5, 1, stereo, "left")
                     + selection(2, 2, 0.5, 1, stereo, "right")
                     + selection(3, 1, 1, 2, mono, "mono")
                     + selection(4, 3, 1, 1.5, stereo, "none"))
    read, problems = read_file(table)
    assert dict(zip(read["label"], read["audio"])) == {
        "left": f"{stereo}#t=0.5,1&channel=0", "right": f"{stereo}#t=0.5,1&channel=1",
        "mono": f"{mono}#t=1,2"}  # a mono file's Channel 1 is the file itself
    assert len(problems) == 1 and "line 5" in problems[0] and "Channel 3" in problems[0]


def test_raven_single_file_table_finds_its_audio_in_its_folder(tmp_path, audio):
    mono, _ = audio
    head = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin File\tCommon Name\n"
    birdnet = tmp_path / "mono.BirdNET.selection.table.txt"
    birdnet.write_text(head + "1\tSpectrogram 1\t1\t1\t2\tmono.wav\tAmerican Robin\n"
                       + "2\tSpectrogram 1\t1\t1\t2\tgone.wav\tBlue Jay\n")
    read, problems = read_file(birdnet)
    assert dict(zip(read["label"], read["audio"]))["American Robin"] == f"{mono}#t=1,2"
    assert any("Begin File 'gone.wav' is not in the table's folder" in p for p in problems)
    # Raven's own table of one sound file: no Begin File, named after the sound file
    single = tmp_path / "mono.Table.1.selections.txt"
    single.write_text("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
                      "1\tSpectrogram 1\t1\t3\t4\tdog\n")
    read, problems = read_file(single)
    assert list(read["audio"]) == [f"{mono}#t=3,4"] and problems == []
    unnamed = tmp_path / "other.Table.1.selections.txt"
    unnamed.write_text(single.read_text())
    with pytest.raises(FormatError, match=r"no audio file other\.\*"):
        read_file(unnamed)


def test_raven_table_without_a_label_column_names_its_columns(tmp_path, audio):
    mono, _ = audio
    table = tmp_path / "nolabel.txt"
    table.write_text(f"Selection\tBegin Time (s)\tEnd Time (s)\tBegin Path\tNotes\n"
                     f"1\t1\t2\t{mono}\tx\n")
    with pytest.raises(FormatError, match="its columns are 'Selection', .*'Notes'"):
        read_file(table)


# -- Label Studio ------------------------------------------------------------------------

def region(rid, start, end, labels):
    return {"id": rid, "type": "labels", "from_name": "region", "to_name": "audio",
            "value": {"start": start, "end": end, "channel": 0, "labels": labels}}


def test_label_studio_reads_the_latest_annotation_not_cancelled(tmp_path, audio):
    mono, _ = audio
    tasks = [{"data": {"audio": str(mono)}, "annotations": [
        {"id": 1, "created_at": "2024-01-02T10:00:00Z", "result": [region("a", 1, 2, ["dog"])]},
        {"id": 2, "created_at": "2024-01-03T10:00:00Z", "result": [region("b", 2, 3, ["cat"])]},
        {"id": 3, "created_at": "2024-01-04T10:00:00Z", "was_cancelled": True, "result": []}]},
        {"data": {"audio": str(mono)}, "annotations": [{"was_cancelled": True, "result": [
            region("c", 3, 4, ["owl"])]}]}]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks))
    read, problems = read_file(path)
    assert list(read["audio"]) == [f"{mono}#t=2,3"] and list(read["label"]) == ["cat"]
    assert problems == [f"{path}, task 1: every annotation was cancelled (skipped); "
                        "nothing imported"]


def test_label_studio_keeps_every_label_and_the_free_transcript(tmp_path, audio):
    mono, _ = audio
    results = [region("r1", 1, 2, ["bark", "dog"]), region("r2", 2, 3, ["owl", "a;b"]),
               {"type": "choices", "from_name": "label", "to_name": "audio",
                "value": {"choices": ["outdoor", "night"]}},
               {"id": "t9", "type": "textarea", "from_name": "transcript", "to_name": "audio",
                "value": {"text": ["a dog barks"]}},
               {"id": "r1", "type": "textarea", "from_name": "transcript", "to_name": "audio",
                "value": {"start": 1, "end": 2, "text": ["woof"]}}]
    tasks = [{"data": {"audio": str(mono)}, "annotations": [{"result": results}]},
             {"id": 7, "data": {"audio": str(mono)}, "predictions": [
                 {"result": [region("p", 1, 2, ["guess"])]}]}]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks))
    read, problems = read_file(path)
    rows = read.set_index("audio")
    assert rows.loc[str(mono), "label"] == "outdoor" and rows.loc[str(mono), "tags"] == "night"
    assert rows.loc[str(mono), "transcript"] == "a dog barks"
    assert rows.loc[f"{mono}#t=1,2", ["label", "tags", "transcript"]].tolist() == [
        "bark", "dog", "woof"]
    assert rows.loc[f"{mono}#t=2,3", ["label", "tags"]].tolist() == ["owl", ""]
    assert any("task 0" in p and "'a;b' left out" in p for p in problems)
    assert any("task 1 (id 7): has predictions only; nothing imported" in p for p in problems)
    ds = AudioDataset.from_pandas(read)
    assert ds.tags_of(f"{mono}#t=1,2") == {"dog"}


def test_label_studio_csv_and_json_min_exports_are_named(tmp_path, audio):
    mono, _ = audio
    regions = [{"start": 1, "end": 2, "channel": 0, "labels": ["dog"]}]
    minimal = [{"audio": str(mono), "id": 1, "region": regions, "annotator": "me@lab.org",
                "annotation_id": 3, "created_at": "2024-01-02", "updated_at": "2024-01-02",
                "lead_time": 4.2}]
    as_json = tmp_path / "project-min.json"
    as_json.write_text(json.dumps(minimal))
    as_csv = tmp_path / "project.csv"
    pd.DataFrame([{**minimal[0], "region": json.dumps(regions)}]).to_csv(as_csv, index=False)
    for path in (as_json, as_csv):
        for format in ("label-studio", None):  # named, or found out by the file alone
            with pytest.raises(FormatError,
                               match=r"Label Studio CSV/JSON-MIN export.*Export > JSON"):
                read_file(path, format=format)
        assert export_hint(read_table(path)) is not None
    # a table with only the region column (annotation columns dropped) still tells
    assert export_hint(read_table(as_csv)[["audio", "region"]]) is not None
    ours = pd.DataFrame({"audio": [str(mono)], "label": ["dog"], "SUBSET": ["train"],
                         "annotator": ["me"]})  # a user's own column: not a telltale alone
    ours.to_csv(tmp_path / "ours.csv", index=False)
    assert export_hint(read_table(tmp_path / "ours.csv")) is None
    other = tmp_path / "other.json"
    other.write_text('{"not": "tasks"}')
    with pytest.raises(FormatError, match="not Label Studio JSON"):
        read_file(other, format="label-studio")


# -- Audacity ----------------------------------------------------------------------------

def test_audacity_point_labels_become_short_ranges_and_are_said(tmp_path, audio):
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    (tracks / "mono.wav.txt").write_text(
        "1.000000\t2.000000\tdog\n3.000000\t3.000000\tclick\n\\\t100.0\t2000.0\n"
        "4.900000\t4.900000\tedge\n0.000000\t0.000000\tstreet\n")
    read, problems = read_file(tracks, format="audacity", audio_root=tmp_path)
    mono = tmp_path / "mono.wav"
    half = POINT_WIDTH / 2
    assert dict(zip(read["label"], read["audio"])) == {
        "dog": f"{mono}#t=1,2", "click": f"{mono}#t={3 - half:g},{3 + half:g}",
        "edge": f"{mono}#t={4.9 - half:g},5", "street": str(mono)}  # clipped to the file
    assert len(problems) == 1 and "line(s) 2" in problems[0] and ", 4 " in problems[0]
    assert "widen them in Audacity" in problems[0]


# -- Prodigy, Encord: one bad field, the rest is read -------------------------------------

def test_a_bad_channel_is_a_problem_of_its_record_only(tmp_path, audio):
    mono, stereo = audio
    prodigy = tmp_path / "tasks.jsonl"
    prodigy.write_text("\n".join(json.dumps(task) for task in [
        {"audio": str(stereo), "audio_spans": [
            {"start": 0.5, "end": 1, "label": "a", "channel": "left"},
            {"start": 0.5, "end": 1, "label": "b", "channel": 1}]},
        {"audio": str(mono), "label": "dog"}]) + "\n")
    read, problems = read_file(prodigy)
    assert sorted(read["label"]) == ["b", "dog"]
    assert problems == [f"{prodigy}, line 1, audio_spans[0]: field 'channel' must be a channel "
                        "number (0 = the first), got 'left'"]
    encord = tmp_path / "encord.json"
    encord.write_text(json.dumps([
        {"file": str(stereo), "classifications": [
            {"name": "label", "answer": "a", "ranges": [[500, 1000]], "channel": "left"},
            {"name": "label", "answer": "b", "ranges": [[1.0, 1.4], [500, 1000]]}]},
        {"file": str(mono), "classifications": [{"name": "label", "answer": "c"}]}]))
    read, problems = read_file(encord)
    assert sorted(read["audio"]) == sorted([f"{stereo}#t=0.5,1", str(mono)])
    assert any("file 0, classifications[0]" in p and "'channel'" in p for p in problems)
    assert any("classifications[1], ranges[0]" in p and "shorter than a millisecond" in p
               for p in problems)


# -- every reader: a range shorter than a millisecond -------------------------------------

@pytest.mark.parametrize("format", ["prodigy", "label-studio", "encord", "raven", "audacity"])
def test_a_range_that_rounds_to_nothing_is_reported_not_imported(tmp_path, audio, format):
    mono, _ = audio
    if format == "prodigy":
        path = tmp_path / "t.jsonl"
        path.write_text(json.dumps({"audio": str(mono), "audio_spans": [
            {"start": 1.0001, "end": 1.0004, "label": "tiny"},
            {"start": 2, "end": 3, "label": "fine"}]}) + "\n")
    elif format == "label-studio":
        path = tmp_path / "t.json"
        path.write_text(json.dumps([{"data": {"audio": str(mono)}, "annotations": [{"result": [
            region("a", 1.0001, 1.0004, ["tiny"]), region("b", 2, 3, ["fine"])]}]}]))
    elif format == "encord":
        path = tmp_path / "t.json"
        path.write_text(json.dumps([{"file": str(mono), "classifications": [
            {"name": "label", "answer": "tiny", "ranges": [[1000.1, 1000.4]]},
            {"name": "label", "answer": "fine", "ranges": [[2000, 3000]]}]}]))
    elif format == "raven":
        path = tmp_path / "t.txt"
        path.write_text(HEADER + selection(1, 1, 1.0001, 1.0004, mono, "tiny")
                        + selection(2, 1, 2, 3, mono, "fine"))
    else:
        path = tmp_path / "tracks"
        path.mkdir()
        (path / "mono.wav.txt").write_text("1.0001\t1.0004\ttiny\n2\t3\tfine\n")
    read, problems = read_file(path, format=format, audio_root=tmp_path)
    assert list(read["label"]) == ["fine"] and list(read["audio"]) == [f"{mono}#t=2,3"]
    assert len(problems) == 1 and "shorter than a millisecond" in problems[0]


def test_audacity_tracks_hover_audio_wrote_find_their_audio_without_a_root(tmp_path, audio):
    """A round trip needs no --audio-root: the export records where the audio was, so the
    rows read back are the workspace's own clips, not keys of files beside the tracks."""
    mono, _ = audio
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [str(mono), f"{mono}#t=0.5,1.5"], "label": ["whole", "part"],
        "SUBSET": ["train", "train"]}))
    out = ds.export(tmp_path / "elsewhere" / "tracks", format="audacity")
    table, problems = read_file(out, format="audacity")
    assert problems == []
    assert sorted(table["audio"]) == sorted(ds.keys)
    assert ds.merge(table)["action"].tolist() == []  # nothing new, nothing changed


def test_raven_measurement_columns_come_back_as_numbers(tmp_path, audio):
    """Raven's measurements ("Peak Freq (Hz)") are numbers, a blank one missing; a
    column with any text stays text; a round trip writes them back as they were."""
    mono, _ = audio
    header = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)",
              "Begin Path", "Annotation", "Peak Freq (Hz)", "Notes"]
    rows = [["1", "Spectrogram 1", "1", "0.5", "1.0", str(mono), "bark", "1250.5", "loud"],
            ["2", "Spectrogram 1", "1", "1.5", "2.0", str(mono), "growl", "", "7"]]
    path = tmp_path / "calls.selections.txt"
    path.write_text("\n".join("\t".join(row) for row in [header, *rows]) + "\n")
    table, problems = read_file(path)
    assert problems == []
    assert table["Peak Freq (Hz)"].dtype == np.float64
    assert table["Peak Freq (Hz)"].iloc[0] == 1250.5 and np.isnan(table["Peak Freq (Hz)"].iloc[1])
    assert table["Notes"].tolist() == ["loud", "7"]
    ds = AudioDataset.from_pandas(table)
    again, _ = read_file(ds.export(tmp_path / "again.txt", format="raven",
                                   include_unlabeled=True))
    assert again["Peak Freq (Hz)"].iloc[0] == 1250.5 and np.isnan(again["Peak Freq (Hz)"].iloc[1])


def test_audacity_export_says_channel_rows_lose_their_channel(tmp_path, audio):
    _, stereo = audio
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [f"{stereo}#t=0.5,1", f"{stereo}#t=0.5,1&channel=1"],
        "label": ["both", "right"], "SUBSET": ["train", "train"]}))
    with pytest.warns(UserWarning, match=r"1 row\(s\) of one channel written to their file's "
                                         r"track"):
        ds.export(tmp_path / "tracks", format="audacity")
