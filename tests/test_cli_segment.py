"""``--segment`` on serve, vectorize and export: files cut into #t= range rows from the CLI."""
from __future__ import annotations

import pandas as pd
import pytest

from . import audio_corpus as corpus
from hover_audio import AudioDataset
from hover_audio.app import opening
from hover_audio.app.cli import main


@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "recordings"
    (root / "tones").mkdir(parents=True)
    corpus.write_tone_wav(root / "tones" / "five.wav", 5.0)
    corpus.write_tone_wav(root / "tones" / "short.wav", 1.5)
    corpus.write_three_tones(root / "three_tones.wav")
    return root


def test_export_cuts_fixed_windows_and_keeps_a_short_file_whole(folder, tmp_path, capsys):
    out = tmp_path / "clips.csv"
    assert main(["export", str(folder), str(out), "--segment", "2"]) == 0
    table = pd.read_csv(out)
    five = table[table["audio"].str.contains("five.wav")].sort_values("start")
    assert list(five["audio"].str.split("#t=").str[1]) == ["0,2", "2,4", "4,5"]
    short = table[table["audio"].str.contains("short.wav")]
    assert len(short) == 1 and short["end"].iloc[0] == pytest.approx(1.5)
    assert set(five["label"]) == {"tones"}  # the folder's label travels with each range


def test_export_cuts_at_silences(folder, tmp_path):
    out = tmp_path / "clips.csv"
    assert main(["export", str(folder), str(out), "--segment", "nonsilent"]) == 0
    table = pd.read_csv(out)
    assert (table["audio"].str.contains("three_tones.wav")).sum() == 3


def test_a_table_of_whole_files_is_cut_and_ranges_are_kept(folder, tmp_path):
    source = tmp_path / "list.csv"
    pd.DataFrame({"audio": [str(folder / "tones" / "five.wav"),
                            f"{folder / 'three_tones.wav'}#t=0.5,1"],
                  "label": ["a", "b"]}).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    assert main(["export", str(source), str(out), "--segment", "2.5"]) == 0
    table = pd.read_csv(out)
    assert sorted(table["audio"].str.rsplit("/", n=1).str[1]) == [
        "five.wav#t=0,2.5", "five.wav#t=2.5,5", "three_tones.wav#t=0.5,1"]


def test_vectorize_and_serve_workspaces_hold_the_ranges(folder, tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["vectorize", str(folder), "--workspace", str(ws), "--segment", "2",
                 "--cache-dir", str(tmp_path / "cache"), "--quiet", "--workers", "1"]) == 0
    assert "vectorized 8 of 8 clips" in capsys.readouterr().out
    ds = AudioDataset.load(ws, attach=False)
    assert len(ds) == 8 and all("#t=" in key for key in ds.keys)
    # a default serve workspace is per way of cutting: whole files and 2 s windows never mix
    whole = opening.workspace_for(folder)
    cut = opening.workspace_for(folder, opening.parse_segment("2"))
    silences = opening.workspace_for(folder, opening.parse_segment("nonsilent"))
    assert len({whole, cut, silences}) == 3
    attached = opening.open_attached(str(folder), None, opening.parse_segment("2"))
    try:
        assert attached.workspace == cut and len(attached) == 8
    finally:
        attached.close()


@pytest.mark.parametrize("text", ["0", "-1", "abc", "inf", "nan", ""])
def test_bad_segment_values_are_clear_errors(folder, tmp_path, text, capsys):
    assert main(["export", str(folder), str(tmp_path / "x.csv"), "--segment", text]) == 1
    err = capsys.readouterr().err
    assert "--segment takes a window in seconds" in err and repr(text) in err
    assert not (tmp_path / "x.csv").exists()


def test_a_workspace_refuses_segment(folder, tmp_path, capsys):
    ws = tmp_path / "ws"
    AudioDataset.from_folder(folder).save(ws)
    for argv in (["export", str(ws), str(tmp_path / "x.csv"), "--segment", "2"],
                 ["vectorize", str(ws), "--segment", "2", "--quiet"]):
        assert main(argv) == 1
        assert "is a workspace" in capsys.readouterr().err
