"""Labels out to other tools' formats and back: Prodigy, Label Studio, Encord, Raven, Audacity.

Each format: dataset -> file -> dataset keeps the rows, labels, ranges (to the
millisecond), transcripts, subsets and user columns where the format has room, with
whole files and ranges mixed; each file is checked with a plain parser against the
format's documented structure; malformed records are named and the rest is read.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import soundfile

from . import audio_corpus as corpus
from hover_audio import AudioDataset
from hover_audio.app.cli import main
from hover_audio.dataset.formats import FORMATS, detect, read_file

RICH = ("prodigy", "label-studio", "encord", "raven")  # room for subsets, text, columns


@pytest.fixture()
def ds(tmp_path):
    root = tmp_path / "audio"
    (root / "calls").mkdir(parents=True)
    corpus.write_three_tones(root / "calls" / "long.wav")
    corpus.write_tone_wav(root / "a.wav", 1.0)
    corpus.write_tone_wav(root / "b.wav", 1.5)
    stereo = np.stack([corpus.tone(440, 2, 16000), corpus.tone(880, 2, 16000)], axis=1)
    soundfile.write(root / "calls" / "stereo.wav", stereo, 16000)
    long, a, b = root / "calls" / "long.wav", root / "a.wav", root / "b.wav"
    table = pd.DataFrame({
        "audio": [str(a), str(b), f"{long}#t=0.45,1.55", f"{long}#t=2.95,3.551",
                  f"{long}#t=3,3.5", f"{root / 'calls' / 'stereo.wav'}#t=0.5,1.25&channel=1",
                  f"{long}#t=4.95,6.05"],
        "label": ["dog", "cat", "tone", "tone", "overlap", "right", "ABSTAIN"],
        "SUBSET": ["train", "dev", "test", "raw", "train", "raw", "raw"],
        "note": ["first", "", "x y", "z", "o", "r", "u"],
        "score": [0.5, 1.25, 2.0, 3.5, 4.0, 5.0, 6.0],
    })
    dataset = AudioDataset.from_pandas(table)
    dataset.set_transcript([str(a), f"{long}#t=2.95,3.551"], "bark, then silence")
    return dataset


def normal(table: pd.DataFrame, columns) -> pd.DataFrame:
    out = table[columns].copy()
    if "score" in out:
        out["score"] = out["score"].astype(float)
    if "note" in out:
        out["note"] = out["note"].fillna("").astype(str)
    return out.sort_values("audio").reset_index(drop=True)


def destination(tmp_path, format):
    suffix = {"prodigy": ".jsonl", "label-studio": ".json", "encord": ".json", "raven": ".txt",
              "audacity": "", "csv": ".csv"}[format]
    return tmp_path / f"out-{format}{suffix}"


@pytest.mark.parametrize("format", RICH)
def test_round_trip_keeps_everything_the_format_has_room_for(ds, tmp_path, format):
    out = ds.export(destination(tmp_path, format), format=format)
    back = AudioDataset.from_file(out, format=format)
    labeled = ds.to_pandas()
    labeled = labeled[labeled["label"] != "ABSTAIN"]
    columns = ["audio", "label", "SUBSET", "transcript", "note", "score"]
    pd.testing.assert_frame_equal(normal(back.to_pandas(), columns), normal(labeled, columns))


def test_audacity_keeps_labels_and_ranges(ds, tmp_path):
    with pytest.warns(UserWarning, match="of one channel"):
        out = ds.export(tmp_path / "tracks", format="audacity")
    back = AudioDataset.from_file(out, format="audacity", audio_root=tmp_path / "audio")
    labeled = ds.to_pandas()
    labeled = labeled[(labeled["label"] != "ABSTAIN") & ~labeled["audio"].str.contains("channel")]
    got = back.to_pandas()
    # channels have no place in a label track: that row comes back as a range of the mixdown
    assert sorted(got["audio"]) == sorted(list(labeled["audio"]) + [
        k.replace("&channel=1", "") for k in ds.keys if "channel" in k])
    assert set(got["SUBSET"]) == {"raw"}  # no room for subsets
    assert dict(zip(got["audio"], got["label"]))[labeled["audio"].iloc[0]] == "dog"


def test_audacity_export_again_removes_its_own_old_tracks_and_says_what_it_cannot_hold(
        tmp_path):
    corpus.write_tone_wav(tmp_path / "a.wav", 1.0)
    corpus.write_tone_wav(tmp_path / "b.wav", 1.0)
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "https://h.example/c.wav"],
        "label": ["dog", "cat\tbig", "owl"], "SUBSET": ["train"] * 3}))
    out = tmp_path / "tracks"
    out.mkdir()
    (out / "notes.txt.bak").write_text("mine")  # not ours: left alone
    with pytest.warns(UserWarning) as said:
        ds.export(out, format="audacity")
    text = str(said[0].message)
    assert "1 clip(s) at URLs left out" in text and "'cat\\tbig'" in text
    assert (out / "b.wav.txt").read_text() == "0.000000\t0.000000\tcat big\n"
    ds.commit([str(tmp_path / "b.wav")], "raw")
    ds.set_labels([str(tmp_path / "b.wav")], "ABSTAIN")
    with pytest.warns(UserWarning, match="URLs left out"):
        ds.export(out, format="audacity")
    assert not (out / "b.wav.txt").exists() and (out / "notes.txt.bak").exists()
    back = AudioDataset.from_file(out, format="audacity", audio_root=tmp_path)
    assert back.keys == [str(tmp_path / "a.wav")]  # the unlabeled file's old track is gone


def test_unlabeled_rows_only_on_request(ds, tmp_path):
    out = ds.export(tmp_path / "all.jsonl", include_unlabeled=True)
    assert len(AudioDataset.from_file(out)) == len(ds)
    assert len(AudioDataset.from_file(ds.export(tmp_path / "some.jsonl"))) == len(ds) - 1


def test_prodigy_structure(ds, tmp_path):
    tasks = [json.loads(line) for line in
             ds.export(tmp_path / "p.jsonl").read_text().splitlines()]
    by_audio = {task["audio"]: task for task in tasks}
    long = next(task for audio, task in by_audio.items() if audio.endswith("long.wav"))
    assert {span["label"] for span in long["audio_spans"]} == {"tone", "overlap"}
    assert all(set(span) >= {"start", "end", "label", "id"} for span in long["audio_spans"])
    assert any(span["end"] == 3.551 for span in long["audio_spans"])
    a = next(task for audio, task in by_audio.items() if audio.endswith("a.wav"))
    assert a["label"] == "dog" and a["answer"] == "accept" and a["meta"]["note"] == "first"
    assert a["transcript"] == "bark, then silence"


def test_label_studio_structure_and_config(ds, tmp_path, capsys):
    tasks = json.loads(ds.export(tmp_path / "ls.json", format="label-studio").read_text())
    for task in tasks:
        assert "audio" in task["data"] and isinstance(task["annotations"][0]["result"], list)
        for result in task["annotations"][0]["result"]:
            assert result["to_name"] == "audio" and result["type"] in (
                "choices", "labels", "textarea")
            if result["type"] == "labels":
                assert set(result["value"]) >= {"start", "end", "channel", "labels"}
                assert result["original_length"] > result["value"]["end"]
    assert detect(tmp_path / "ls.json") == "label-studio"
    assert main(["export", str(tmp_path / "ls.json"), str(tmp_path / "x.json"),
                 "--format", "label-studio", "--ls-config"]) == 0
    xml = capsys.readouterr().out
    assert '<Audio name="audio" value="$audio"/>' in xml and '<Choice value="dog"/>' in xml
    assert '<TextArea name="transcript"' in xml


def test_encord_structure(ds, tmp_path):
    items = json.loads(ds.export(tmp_path / "e.json", format="encord").read_text())
    ranges = [c["ranges"] for item in items for c in item["classifications"]]
    assert [2950, 3551] in [r[0] for r in ranges if r] and [] in ranges  # ms; whole files
    assert detect(tmp_path / "e.json") == "encord"


def test_raven_structure(ds, tmp_path):
    out = ds.export(tmp_path / "r.txt", format="raven")
    rows = list(csv.DictReader(out.open(encoding="utf-8"), delimiter="\t"))
    assert list(rows[0])[:10] == ["Selection", "View", "Channel", "Begin Time (s)",
                                  "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)",
                                  "Begin Path", "File Offset (s)", "Annotation"]
    right = next(row for row in rows if row["Annotation"] == "right")
    assert right["Channel"] == "2" and right["Begin Time (s)"] == "0.500"


def test_malformed_records_are_named_and_the_rest_is_read(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"audio": "a.wav", "label": "dog"}\n{not json\n'
                    '{"audio": "b.wav", "audio_spans": [{"start": 3, "end": 1, "label": "x"}]}\n'
                    '{"label": "cat"}\n')
    table, problems = read_file(path)
    assert list(table["audio"]) == ["a.wav"]
    assert any("line 2" in p and "not JSON" in p for p in problems)
    assert any("line 3" in p and "audio_spans[0]" in p and "bad range" in p for p in problems)
    assert any("line 4" in p and "'audio'" in p for p in problems)
    with pytest.warns(UserWarning, match="4 problem"):  # three records, and a.wav is missing
        AudioDataset.from_file(path)
    with pytest.raises(ValueError, match="unknown format"):
        read_file(path, format="excel")
    assert set(FORMATS) >= {"prodigy", "label-studio", "encord", "raven", "audacity", "csv"}


def test_cli_export_and_serve_source(ds, tmp_path):
    ds.save(tmp_path / "ws")
    for format in RICH:
        out = destination(tmp_path, format)
        assert main(["export", str(tmp_path / "ws"), str(out), "--format", format]) == 0
        assert len(AudioDataset.from_file(out, format=format)) == len(ds) - 1
    assert main(["export", str(tmp_path / "ws"), str(tmp_path / "tracks"), "--format",
                 "audacity", "--include-unlabeled"]) == 0
    assert list((tmp_path / "tracks").rglob("*.txt"))
    assert main(["info", str(destination(tmp_path, "prodigy"))]) == 0


def test_the_cli_knows_every_format():
    from hover_audio.app.cli import FORMAT_NAMES

    assert set(FORMAT_NAMES) == set(FORMATS)


def test_import_merges_as_one_undoable_operation(ds, tmp_path, capsys):
    ds.save(tmp_path / "ws")
    keys = ds.keys
    unlabeled = next(k for k in keys if ds.to_pandas().set_index("audio").loc[k, "label"]
                     == "ABSTAIN")
    incoming = tmp_path / "theirs.jsonl"
    long = unlabeled.split("#")[0]
    lines = [
        {"audio": long, "audio_spans": [
            {"start": 4.95, "end": 6.05, "label": "late tone", "id": "1"},  # fills ABSTAIN
            {"start": 0.45, "end": 1.55, "label": "not a tone", "id": "2"},  # conflict
            {"start": 6.1, "end": 6.6, "label": "tail", "id": "3", "subset": "train"}]},  # new
    ]
    incoming.write_text("\n".join(json.dumps(line) for line in lines) + "\n{broken\n")
    ds.close()
    # the broken line is left out: the rest is merged, and the exit says it is incomplete
    assert main(["import", str(incoming), "--workspace", str(tmp_path / "ws")]) == 1
    captured = capsys.readouterr()
    out = captured.out
    assert "1 new, 1 updated, 1 conflicting" in out and "1 problem(s) in the file" in out
    assert "line 2" in out  # the broken line is named
    assert "is incomplete" in captured.err
    merged = AudioDataset.load(tmp_path / "ws")
    try:
        table = merged.to_pandas().set_index("audio")
        assert table.loc[unlabeled, "label"] == "late tone"
        assert table.loc[f"{long}#t=0.45,1.55", "label"] == "tone"  # ours kept
        assert table.loc[f"{long}#t=6.1,6.6", "SUBSET"] == "train"
        assert len(merged) == len(keys) + 1
        merged.undo()
        assert sorted(merged.keys) == sorted(keys)
        assert merged.to_pandas().set_index("audio").loc[unlabeled, "label"] == "ABSTAIN"
    finally:
        merged.close()


def test_a_failed_import_changes_nothing(ds, tmp_path, capsys):
    ds.save(tmp_path / "ws")
    before = ds.to_pandas()
    ds.close()
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json at all")
    assert main(["import", str(bad), "--workspace", str(tmp_path / "ws")]) == 1
    assert "not JSON" in capsys.readouterr().err
    again = AudioDataset.load(tmp_path / "ws", attach=False)
    pd.testing.assert_frame_equal(again.to_pandas(), before)


def test_ranges_past_the_end_and_missing_audio_are_reported(tmp_path, capsys):
    corpus.write_tone_wav(tmp_path / "a.wav", 1.0)
    path = tmp_path / "theirs.jsonl"
    path.write_text("\n".join(json.dumps(task) for task in [
        {"audio": str(tmp_path / "a.wav"), "audio_spans": [
            {"start": 0.2, "end": 0.8, "label": "in", "id": "1"},
            {"start": 0.5, "end": 1.7, "label": "past", "id": "2"}]},
        {"audio": str(tmp_path / "gone.wav"), "label": "kept anyway"}]) + "\n")
    table, problems = read_file(path)
    assert sorted(table["label"]) == ["in", "kept anyway"]
    assert any("#t=0.5,1.7" in p and "ends after the file (1 s)" in p for p in problems)
    assert any("gone.wav" in p and "missing" in p for p in problems)
    ws = tmp_path / "ws"
    ours = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(tmp_path / "a.wav")],
                                                  "label": ["old"], "SUBSET": ["train"]}))
    ours.save(ws)
    ours.close()
    # the import adds no row for audio that is not there: gone.wav is named, not added
    assert main(["import", str(path), "--workspace", str(ws)]) == 1
    out = capsys.readouterr().out
    assert "new label(s), not in the workspace before: in\n" in out
    assert "problem:" in out and "ends after the file" in out
    assert f"{tmp_path / 'gone.wav'}: missing audio, no such file; 1 row(s) not imported" in out
    merged = AudioDataset.load(ws, attach=False)
    a = str(tmp_path / "a.wav")
    assert sorted(merged.keys) == sorted([a, f"{a}#t=0.2,0.8"])


def test_records_naming_audio_we_cannot_read_are_left_out_and_named(tmp_path):
    # Prodigy's audio loaders inline the audio as a data: URI and name the file in "path";
    # Label Studio tasks often point at cloud storage
    prodigy = tmp_path / "tasks.jsonl"
    prodigy.write_text('{"audio": "data:audio/wav;base64,UklGRg==", "path": "calls/x.wav", '
                       '"label": "dog"}\n'
                       '{"audio": "data:audio/wav;base64,UklGRg==", "label": "cat"}\n'
                       '{"audio": "b.wav", "label": "owl"}\n')
    table, problems = read_file(prodigy)
    assert list(table["audio"]) == ["calls/x.wav", "b.wav"]
    assert list(table["label"]) == ["dog", "owl"]
    assert any("line 2" in p and "'data'" in p for p in problems)
    studio = tmp_path / "studio.json"
    studio.write_text(json.dumps([{"data": {"audio": "s3://bucket/a.wav"}},
                                  {"data": {"audio": "c.wav", "subset": "train"}}]))
    table, problems = read_file(studio, format="label-studio")
    assert list(table["audio"]) == ["c.wav"]
    assert any("task 0" in p and "'s3'" in p for p in problems)


def test_label_studio_channel_zero_is_the_whole_mix_unless_the_view_splits_channels(tmp_path):
    def region(at, start, channel, label):
        return {"id": f"r{at}", "type": "labels", "from_name": "label", "to_name": "audio",
                "value": {"start": start, "end": start + 1.5, "channel": channel,
                          "labels": [label]}}

    tasks = [  # as Label Studio itself exports them: every region has a channel
        {"data": {"audio": "mix.wav"},
         "annotations": [{"result": [region(0, 1.0, 0, "dog"), region(1, 4.0, 0, "cat")]}]},
        {"data": {"audio": "split.wav"},  # an Audio view with splitchannels="true"
         "annotations": [{"result": [region(0, 1.0, 0, "left"), region(1, 1.0, 1, "right")]}]},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    table, _ = read_file(path, format="label-studio")
    keys = AudioDataset.from_pandas(table).keys
    assert sorted(keys) == ["mix.wav#t=1,2.5", "mix.wav#t=4,5.5",
                            "split.wav#t=1,2.5&channel=0", "split.wav#t=1,2.5&channel=1"]


@pytest.mark.parametrize("format", ["prodigy", "label-studio", "raven", "csv"])
def test_a_range_given_below_the_millisecond_comes_back_as_the_same_row(tmp_path, format):
    corpus.write_tone_wav(tmp_path / "a.wav", 5.0)
    key = f"{tmp_path / 'a.wav'}#t=3.1234,4"
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [key], "label": ["dog"],
                                                "SUBSET": ["train"]}))
    assert ds.keys == [f"{tmp_path / 'a.wav'}#t=3.123,4"]  # kept to the millisecond
    path = ds.export(destination(tmp_path, format), format=format)
    report = ds.merge(read_file(path, format=format)[0])
    assert len(ds) == 1 and "new" not in set(report["action"])


@pytest.mark.parametrize("format", ["csv", "prodigy"])
def test_relative_paths_in_a_file_point_from_the_files_folder(tmp_path, monkeypatch, format):
    (tmp_path / "project" / "clips").mkdir(parents=True)
    corpus.write_tone_wav(tmp_path / "project" / "clips" / "a.wav", 1.0)
    relative = pd.DataFrame({"audio": ["clips/a.wav", "./clips/a.wav#t=0.25,0.5"],
                             "label": ["dog", "cat"], "SUBSET": ["train", "train"]})
    path = tmp_path / "project" / ("labels.csv" if format == "csv" else "labels.jsonl")
    if format == "csv":
        relative.to_csv(path, index=False)
    else:
        path.write_text('{"audio": "clips/a.wav", "label": "dog", "audio_spans": '
                        '[{"start": 0.25, "end": 0.5, "label": "cat"}]}\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ds = AudioDataset.from_file(path)
    whole = str(tmp_path / "project" / "clips" / "a.wav")
    assert sorted(ds.keys) == [whole, f"{whole}#t=0.25,0.5"]
    # a path written from the shell's folder, with nothing under the file's, is kept
    monkeypatch.chdir(tmp_path / "project")
    (tmp_path / "project" / "tables").mkdir()
    relative.iloc[:1].to_csv(tmp_path / "project" / "tables" / "t.csv", index=False)
    assert AudioDataset.from_file(tmp_path / "project" / "tables" / "t.csv").keys == [whole]
    # a path that names no file stays as it is (and is reported when vectorized)
    pd.DataFrame({"audio": ["gone.wav"]}).to_csv(tmp_path / "gone.csv", index=False)
    assert AudioDataset.from_file(tmp_path / "gone.csv").keys == ["gone.wav"]

