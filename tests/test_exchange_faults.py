"""Exchanging labels with other tools: the faults QA found, each as the other tool's file.

Each test writes the files Label Studio, Prodigy, Encord, Raven or Audacity write (or
read) to ``tmp_path`` and runs the real reader, writer or command: Label Studio tasks
with no label carry no annotation, and the labeling config names every label the tasks
use; Prodigy choice tasks are read by their options' text and rejected answers are not
labels; an unknown subset is a problem of its record in every format; a whole-channel
row is a span with an end; a channel the file does not have, a task without
``data.audio``, a bad ``annotations`` field are named; a single Audacity label track
imports; ``--audio-root`` applies to every format.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from . import audio_corpus as corpus
from hover_audio import AudioDataset
from hover_audio.app.cli import main
from hover_audio.dataset.formats import Note, detect, read_file

REPO = Path(__file__).resolve().parents[1]
RAVEN = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin Path\tAnnotation\n"
CSV_SAYS = "unknown subset 'validation' (expected one of raw, train, dev, test)"


@pytest.fixture()
def audio(tmp_path):
    """A mono file (5 s) and a stereo file (2 s) in ``tmp_path/audio``."""
    folder = tmp_path / "audio"
    corpus.write_tone_wav(folder / "long.wav", 5.0)
    stereo = np.stack([corpus.tone(440, 2, 16000), corpus.tone(880, 2, 16000)], axis=1)
    soundfile.write(folder / "st.wav", stereo, 16000)
    return folder


def workspace(folder: Path, table: pd.DataFrame) -> Path:
    dataset = AudioDataset.from_pandas(table)
    dataset.save(folder)
    dataset.close()
    return folder


def rows_of(folder: Path) -> dict:
    dataset = AudioDataset.load(folder, attach=False)
    return dict(zip(dataset.keys, dataset.column("label")))


def jsonl(path: Path, tasks) -> Path:
    path.write_text("".join(json.dumps(task) + "\n" for task in tasks))
    return path


def run_cli(*args) -> subprocess.CompletedProcess:
    """The command in a new process, as a person runs it."""
    return subprocess.run([sys.executable, "-m", "hover_audio.app.cli", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))


# -- 1: Label Studio tasks with no label have no annotations -------------------------------

def test_label_studio_tasks_without_a_label_have_no_annotations(tmp_path, audio, capsys):
    long, st = audio / "long.wav", audio / "st.wav"
    ws = workspace(tmp_path / "ws", pd.DataFrame({
        "audio": [str(long), str(st), f"{st}#t=0.5,1", f"{long}#t=1,2"],
        "label": ["ABSTAIN", "ABSTAIN", "ABSTAIN", "dog"]}))
    out = tmp_path / "tasks.json"
    assert main(["export", str(ws), str(out), "--format", "label-studio",
                 "--include-unlabeled"]) == 0
    capsys.readouterr()
    tasks = {Path(task["data"]["audio"]).name: task for task in json.loads(out.read_text())}
    # Label Studio counts a task with an annotation as labelled (is_labeled): unlabelled
    # files must come without one, to stay in the labeling queue
    assert "annotations" not in tasks["st.wav"]
    results = tasks["long.wav"]["annotations"][0]["result"]
    assert [r["value"]["labels"] for r in results] == [["dog"]]  # no "ABSTAIN" region
    assert detect(out) == "label-studio"  # its first task has no annotations
    read, problems = read_file(out)
    assert problems == []
    assert sorted(read["audio"]) == sorted([str(long), str(st), f"{st}#t=0.5,1",
                                            f"{long}#t=1,2"])  # every row comes back


# -- 2: the labeling config names every label the tasks use ---------------------------------

def test_ls_config_names_every_label_the_exported_tasks_use(tmp_path, audio, capsys):
    long, st = audio / "long.wav", audio / "st.wav"
    dataset = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(long), str(st)],
                                                     "label": ["dog", "ABSTAIN"]}))
    dataset.save(tmp_path / "ws")
    dataset.add_range(str(long), 1, 2, label="owl")  # (label_order does not see it)
    dataset.close()
    out = tmp_path / "tasks.json"
    assert main(["export", str(tmp_path / "ws"), str(out), "--format", "label-studio",
                 "--ls-config"]) == 0
    xml = capsys.readouterr().out
    choices = re.findall(r'<Choice value="([^"]*)"/>', xml)
    regions = re.findall(r'<Label value="([^"]*)"/>', xml)
    used = {label for task in json.loads(out.read_text())
            for result in task.get("annotations", [{}])[0].get("result", [])
            for label in result["value"].get("labels", result["value"].get("choices", []))}
    assert used == {"dog", "owl"}
    assert used <= set(choices) and used <= set(regions), xml
    assert choices[0] == "dog"  # the label order first, then the rest


# -- 3: Prodigy choice tasks, and answers that are not labels -------------------------------

def test_prodigy_choice_tasks_read_the_options_text(tmp_path, audio):
    path = jsonl(tmp_path / "choices.jsonl", [
        {"audio": "audio/long.wav", "options": [{"id": 0, "text": "Dog"}, {"id": 1, "text": "Cat"}],
         "accept": [1], "answer": "accept"},
        {"audio": "audio/st.wav", "options": [{"id": 0, "text": "Dog"}, {"id": 1, "text": "Cat"},
                                              {"id": 2, "text": "Owl"}],
         "accept": [2, 0], "answer": "accept"}])
    table, problems = read_file(path)
    assert problems == []
    got = table.set_index("audio")
    assert got.loc[str(audio / "long.wav"), "label"] == "Cat"  # the text, not the id "1"
    assert got.loc[str(audio / "st.wav"), "label"] == "Owl"  # several: the first is the
    assert got.loc[str(audio / "st.wav"), "tags"] == "Dog"  # label, the others its tags


def test_prodigy_rejected_and_ignored_tasks_are_not_labels(tmp_path, audio, capsys):
    long = audio / "long.wav"
    ws = workspace(tmp_path / "ws", pd.DataFrame({"audio": [str(long)], "label": ["dog"]}))
    path = jsonl(tmp_path / "answers.jsonl", [
        {"audio": str(long), "label": "cat", "answer": "reject"},
        {"audio": str(long), "audio_spans": [{"start": 1, "end": 2, "label": "owl"}],
         "answer": "ignore"},
        {"audio": str(long), "audio_spans": [{"start": 2, "end": 3, "label": "jay"}],
         "answer": "accept"}])
    table, problems = read_file(path)
    assert list(table["audio"]) == [f"{long}#t=2,3"]  # no ABSTAIN rows for the others
    assert [type(p) for p in problems] == [Note, Note]  # said, and nothing lost
    assert "line 1" in problems[0] and "'reject'" in problems[0]
    assert "line 2" in problems[1] and "'ignore'" in problems[1]
    assert main(["import", str(path), "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert out.count("  note: ") == 2 and "1 new, 0 updated" in out
    assert rows_of(ws) == {str(long): "dog", f"{long}#t=2,3": "jay"}
    path.write_text(json.dumps({"audio": str(long), "label": "x", "answer": "maybe"}) + "\n")
    problems = read_file(path)[1]
    assert len(problems) == 1 and "field 'answer'" in problems[0] and "'maybe'" in problems[0]


# -- 4: an unknown subset is a problem of its record, in every format -----------------------

SUBSETS_BY_FORMAT = {
    "prodigy": ("t.jsonl", lambda a, subset: "".join(json.dumps(task) + "\n" for task in [
        {"audio": str(a), "label": "dog", "meta": {"subset": subset}},
        {"audio": str(a), "audio_spans": [{"start": 1, "end": 2, "label": "owl"}]}])),
    "encord": ("t.json", lambda a, subset: json.dumps([{"file": str(a), "classifications": [
        {"name": "label", "answer": "dog", "subset": subset},
        {"name": "label", "answer": "owl", "ranges": [[1000, 2000]]}]}])),
    "label-studio": ("t.json", lambda a, subset: json.dumps([
        {"data": {"audio": str(a), "subset": subset}, "annotations": [{"result": [
            {"type": "choices", "value": {"choices": ["dog"]}}]}]},
        {"data": {"audio": str(a)}, "annotations": [{"result": [
            {"type": "labels", "value": {"start": 1, "end": 2, "labels": ["owl"]}}]}]}])),
    "raven": ("t.txt", lambda a, subset: RAVEN.rstrip("\n") + "\tSubset\tWhole File\n"
              f"1\tSpectrogram 1\t1\t0\t5\t{a}\tdog\t{subset}\tyes\n"
              f"2\tSpectrogram 1\t1\t1\t2\t{a}\towl\t\tno\n"),
}


@pytest.mark.parametrize("subset", ["validation", "Train"])
@pytest.mark.parametrize("format", list(SUBSETS_BY_FORMAT))
def test_an_unknown_subset_is_reported_for_its_record(tmp_path, audio, format, subset, capsys):
    long = audio / "long.wav"
    name, text = SUBSETS_BY_FORMAT[format]
    path = tmp_path / name
    path.write_text(text(long, subset))
    table, problems = read_file(path, format=format)
    assert list(table["audio"]) == [f"{long}#t=1,2"]  # the other record is read
    assert len(problems) == 1, problems
    # as a CSV table says it (spelled as the subsets are: "Train" is not "train")
    assert CSV_SAYS.replace("validation", subset) in problems[0]
    assert str(path) in problems[0]
    csv = tmp_path / "t.csv"
    pd.DataFrame({"audio": [str(long)], "label": ["dog"], "SUBSET": [subset]}).to_csv(csv)
    with pytest.raises(ValueError, match=re.escape(CSV_SAYS.replace("validation", subset))):
        AudioDataset.from_file(csv)
    ws = workspace(tmp_path / "ws", pd.DataFrame({"audio": [str(long)]}))
    assert main(["import", str(path), "--format", format, "--workspace", str(ws)]) == 1
    assert f"unknown subset {subset!r}" in capsys.readouterr().out


# -- 5: a whole channel is a span with an end ----------------------------------------------

def test_prodigy_and_label_studio_whole_channel_rows_have_a_numeric_end(tmp_path, audio):
    st = audio / "st.wav"
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [f"{st}#channel=1", f"{st}#t=0.5,1"], "label": ["dog", "cat"],
        "SUBSET": ["train", "raw"]}))
    task = json.loads(ds.export(tmp_path / "p.jsonl").read_text())
    spans = {span["label"]: span for span in task["audio_spans"]}
    assert spans["dog"]["start"] == 0 and spans["dog"]["end"] == 2.0  # the file's length
    studio = json.loads(ds.export(tmp_path / "ls.json", format="label-studio").read_text())
    values = [r["value"] for r in studio[0]["annotations"][0]["result"]]
    assert all(isinstance(v["end"], float) for v in values), values
    for path in (tmp_path / "p.jsonl", tmp_path / "ls.json"):
        back, problems = read_file(path)
        assert problems == [] and sorted(back["audio"]) == sorted(ds.keys)


def test_whole_channels_of_files_of_unknown_length_are_kept_out_of_spans(tmp_path):
    url = "https://example.org/st.wav"
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [f"{url}#channel=1", f"{url}#t=2,3"], "label": ["dog", "cat"],
        "SUBSET": ["train", "dev"]}))
    with pytest.warns(UserWarning, match="whole channel"):
        out = ds.export(tmp_path / "p.jsonl")
    task = json.loads(out.read_text())
    assert all(isinstance(span["end"], float) for span in task["audio_spans"])
    with pytest.warns(UserWarning, match="whole channel"):
        studio = ds.export(tmp_path / "ls.json", format="label-studio")
    values = [r["value"] for r in json.loads(studio.read_text())[0]["annotations"][0]["result"]]
    assert all(isinstance(v["end"], float) for v in values)
    for path in (out, studio):
        back, problems = read_file(path)
        assert problems == []
        got = back.set_index("audio")
        assert got.loc[f"{url}#channel=1", "label"] == "dog"
        assert got.loc[f"{url}#channel=1", "SUBSET"] == "train"


# -- 6: problems named, and named fully ----------------------------------------------------

def test_a_channel_the_file_does_not_have_is_reported(tmp_path, audio, capsys):
    long = audio / "long.wav"
    prodigy = jsonl(tmp_path / "p.jsonl", [{"audio": str(long), "audio_spans": [
        {"start": 1, "end": 2, "label": "x", "channel": 5},
        {"start": 2, "end": 3, "label": "y"}]}])
    studio = tmp_path / "ls.json"
    studio.write_text(json.dumps([{"data": {"audio": str(long)}, "annotations": [{"result": [
        {"id": "a", "type": "labels", "value": {"start": 1, "end": 2, "channel": 3,
                                                 "labels": ["x"]}},
        {"id": "b", "type": "labels", "value": {"start": 2, "end": 3, "channel": 0,
                                                 "labels": ["y"]}}]}]}]))
    for path, where in ((prodigy, "line 1, audio_spans[0]"), (studio, "task 0, result 0")):
        table, problems = read_file(path)
        assert list(table["label"]) == ["y"], problems
        assert len(problems) == 1 and f"{path}, {where}" in problems[0], problems
        assert "channel" in problems[0] and "1 channel(s)" in problems[0]
    ws = workspace(tmp_path / "ws", pd.DataFrame({"audio": [str(long)]}))
    assert main(["import", str(prodigy), "--workspace", str(ws)]) == 1
    assert "1 channel(s)" in capsys.readouterr().out


def test_a_task_without_its_audio_field_names_the_fields_it_has(tmp_path, audio):
    long = audio / "long.wav"
    studio = tmp_path / "ls.json"
    studio.write_text(json.dumps([{"data": {"wav": str(long)}, "annotations": [{"result": [
        {"type": "choices", "value": {"choices": ["dog"]}}]}]}]))
    problems = read_file(studio, format="label-studio")[1]
    assert len(problems) == 1 and "'wav'" in problems[0] and "data.audio" in problems[0]
    prodigy = jsonl(tmp_path / "p.jsonl", [{"wav": str(long), "label": "dog"},
                                           {"video": str(long), "label": "owl"}])
    table, problems = read_file(prodigy)
    assert len(problems) == 1 and "line 1" in problems[0] and "'wav'" in problems[0]
    assert list(table["label"]) == ["owl"]  # a "video" task plays its file's sound


def test_annotations_that_are_not_a_list_are_named_as_such(tmp_path, audio):
    studio = tmp_path / "ls.json"
    studio.write_text(json.dumps([{"data": {"audio": str(audio / "long.wav")},
                                   "annotations": "bad"}]))
    problems = read_file(studio, format="label-studio")[1]
    assert len(problems) == 1 and "field 'annotations' must be a list" in problems[0]
    assert "cancelled" not in problems[0] and not isinstance(problems[0], Note)


def test_a_range_past_the_end_names_its_file_and_line(tmp_path, audio):
    long = audio / "long.wav"
    prodigy = jsonl(tmp_path / "p.jsonl", [{"audio": str(long), "label": "dog"},
                                           {"audio": str(long), "audio_spans": [
                                               {"start": 1, "end": 9, "label": "x"}]}])
    raven = tmp_path / "r.txt"
    raven.write_text(RAVEN + f"1\tSpectrogram 1\t1\t1\t2\t{long}\ta\n"
                     f"2\tSpectrogram 1\t1\t4\t9\t{long}\tb\n")
    for path, where in ((prodigy, "line 2, audio_spans[0]"), (raven, "line 3")):
        problems = read_file(path)[1]
        assert len(problems) == 1 and f"{path}, {where}" in problems[0], problems
        assert "ends after the file (5 s)" in problems[0]


def test_info_says_how_many_problems_it_did_not_show(tmp_path, audio):
    path = jsonl(tmp_path / "p.jsonl", [{"audio": str(audio / "long.wav"), "label": "dog"}]
                 + [{"label": f"no audio {n}"} for n in range(8)])
    done = run_cli("info", path)
    assert done.returncode == 0, done.stderr
    assert "8 problem(s)" in done.stderr and "... and 3 more" in done.stderr, done.stderr


# -- 7: one Audacity label track ------------------------------------------------------------

def test_a_single_audacity_label_track_imports(tmp_path, audio, capsys):
    long = audio / "long.wav"
    ws = workspace(tmp_path / "ws", pd.DataFrame({"audio": [str(long)]}))
    track = audio / "long.wav.txt"
    track.write_text("0.500000\t1.000000\tdog\n1.000000\t2.000000\tcat\n")
    assert main(["import", str(track), "--workspace", str(ws)]) == 0, capsys.readouterr()
    capsys.readouterr()  # (no --format: a .txt of label lines is a label track)
    assert detect(track) == "audacity"
    assert rows_of(ws) == {str(long): "ABSTAIN", f"{long}#t=0.5,1": "dog",
                           f"{long}#t=1,2": "cat"}
    named = audio / "long.txt"  # named after the audio without its suffix
    named.write_text("2.000000\t3.000000\towl\n")
    assert main(["import", str(named), "--format", "audacity", "--workspace", str(ws)]) == 0
    capsys.readouterr()
    assert rows_of(ws)[f"{long}#t=2,3"] == "owl"
    elsewhere = tmp_path / "labels" / "long.txt"  # the audio under --audio-root
    elsewhere.parent.mkdir()
    elsewhere.write_text("3.000000\t4.000000\tjay\n")
    assert main(["import", str(elsewhere), "--audio-root", str(audio), "--workspace",
                 str(ws)]) == 0
    capsys.readouterr()
    assert rows_of(ws)[f"{long}#t=3,4"] == "jay"
    assert main(["import", str(elsewhere), "--workspace", str(ws)]) == 1  # no audio there
    out = capsys.readouterr().out
    assert "no audio file named after it" in out and "long.*" in out
    marked = audio / "long.wav.txt"  # a byte-order mark first, as some editors save it
    marked.write_text("\ufeff4.000000\t5.000000\telk\n", encoding="utf-8")
    assert detect(marked) == "audacity"
    assert main(["import", str(marked), "--workspace", str(ws)]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert rows_of(ws)[f"{long}#t=4,5"] == "elk"


def test_a_raven_table_is_still_told_from_a_label_track(tmp_path, audio):
    table = tmp_path / "r.txt"
    table.write_text(RAVEN + f"1\tSpectrogram 1\t1\t1\t2\t{audio / 'long.wav'}\ta\n")
    assert detect(table) == "raven"
    assert read_file(table)[0]["label"].tolist() == ["a"]


# -- 8: --audio-root for every format -------------------------------------------------------

AUDIO_ROOT_BY_FORMAT = {
    "prodigy": ("t.jsonl", json.dumps({"audio": "long.wav", "label": "dog"}) + "\n"),
    "encord": ("t.json", json.dumps([{"file": "long.wav", "classifications": [
        {"name": "label", "answer": "dog"}]}])),
    "raven": ("t.txt", RAVEN.rstrip("\n") + "\tWhole File\n"
              "1\tSpectrogram 1\t1\t0\t5\tlong.wav\tdog\tyes\n"),
    "raven-begin-file": ("t.txt", "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\t"
                         "Begin File\tAnnotation\tWhole File\n"
                         "1\tSpectrogram 1\t1\t0\t5\tlong.wav\tdog\tyes\n"),
    "label-studio": ("t.json", json.dumps([{"data": {"audio": "long.wav"}, "annotations": [
        {"result": [{"type": "choices", "value": {"choices": ["dog"]}}]}]}])),
}


@pytest.mark.parametrize("case", list(AUDIO_ROOT_BY_FORMAT))
def test_audio_root_applies_to_relative_paths_in_every_format(tmp_path, audio, case, capsys):
    long = audio / "long.wav"
    ws = workspace(tmp_path / "ws", pd.DataFrame({"audio": [str(long)]}))
    name, text = AUDIO_ROOT_BY_FORMAT[case]
    (tmp_path / "labels").mkdir()
    path = tmp_path / "labels" / name
    path.write_text(text)
    format = case.replace("-begin-file", "")
    assert main(["import", str(path), "--format", format, "--audio-root", str(audio),
                 "--workspace", str(ws)]) == 0, capsys.readouterr().out
    assert "0 new, 1 updated" in capsys.readouterr().out
    assert rows_of(ws) == {str(long): "dog"}


# -- minor: Raven flags, spaces around labels ------------------------------------------------

def test_raven_flag_columns_come_back_as_flags(tmp_path, audio):
    long = audio / "long.wav"
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [f"{long}#t=1,2", f"{long}#t=2,3"], "label": ["a", "b"],
        "checked": [True, False]}))
    back, problems = read_file(ds.export(tmp_path / "r.txt", format="raven"))
    assert problems == []
    assert back["checked"].tolist() == [True, False] and back["checked"].dtype == bool


@pytest.mark.parametrize("format", ["raven", "audacity"])
def test_spaces_around_labels_are_said_both_ways(tmp_path, audio, format):
    long = audio / "long.wav"
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [f"{long}#t=1,2", f"{long}#t=2,3"],
                                                "label": [" padded ", "plain"]}))
    out = tmp_path / ("r.txt" if format == "raven" else "tracks")
    with pytest.warns(UserWarning, match="spaces around them"):
        ds.export(out, format=format)
    back, problems = read_file(out, format=format)
    assert sorted(back["label"]) == ["padded", "plain"]
    assert len(problems) == 1 and isinstance(problems[0], Note)
    assert "spaces around" in problems[0] and "line(s) " in problems[0]


def test_ls_config_with_another_format_is_refused_before_any_work(tmp_path, audio, capsys):
    """It printed Label Studio's XML beside a Prodigy file, as if the two went together."""
    dataset = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(audio / "long.wav")],
                                                     "label": ["dog"]}))
    dataset.save(tmp_path / "ws")
    dataset.close()
    out = tmp_path / "labels.jsonl"
    assert main(["export", str(tmp_path / "ws"), str(out), "--format", "prodigy",
                 "--ls-config"]) == 2
    captured = capsys.readouterr()
    assert "--ls-config" in captured.err and "label-studio" in captured.err
    assert "<View>" not in captured.out and not out.exists()

