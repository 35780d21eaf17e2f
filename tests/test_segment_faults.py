"""Faults found on a real library (drum kits, UI and game sounds from Debian packages).

* ``--segment nonsilent`` left out short one-shots, silence and tiny clips without a
  word: every readable file must become at least one row (the whole file when no region
  is loud and long enough), and a file that cannot be (no samples, unreadable) is named.
* A label subfolder added to a served folder after its workspace was made must join the
  dataset's ``label_order`` (else the page draws its clips as unlabeled grey), and stay
  there when the workspace is opened again.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from hover_audio import AudioDataset
from hover_audio.app.cli import main
from hover_audio.app.opening import open_attached

SR = 16000


def hit(seconds: float, ring: float, freq: float = 150.0) -> np.ndarray:
    """A drum-like one-shot: ``seconds`` long, loud for about ``ring`` s, then quiet."""
    t = np.arange(int(round(seconds * SR))) / SR
    return (0.8 * np.sin(2 * np.pi * freq * t) * np.exp(-t * 7.0 / ring)).astype(np.float32)


@pytest.fixture()
def library(tmp_path):
    """Labeled one-shots, a UI sound in Ogg, a 0.02 s clip, silence, a cut WAV, a long
    recording with one sound in it, an empty WAV and a file that is not audio."""
    root = tmp_path / "lib"
    for name in ("drums", "ui"):
        (root / name).mkdir(parents=True)
    sf.write(root / "drums" / "tom.wav", hit(0.3, 0.05), SR)
    sf.write(root / "drums" / "kick.flac", hit(0.1, 0.04, 60.0), SR)
    sf.write(root / "ui" / "message.ogg", hit(0.31, 0.06, 880.0), SR, format="OGG",
             subtype="VORBIS")
    sf.write(root / "ui" / "tick.wav", hit(0.02, 0.02, 2000.0), SR)
    sf.write(root / "ui" / "silence.wav", np.zeros(3 * SR, dtype=np.float32), SR)
    sf.write(root / "ui" / "cut.wav", hit(2.0, 0.05, 440.0), SR, subtype="PCM_16")
    whole = (root / "ui" / "cut.wav").read_bytes()
    (root / "ui" / "cut.wav").write_bytes(whole[: len(whole) // 2])  # header says 2 s
    long = np.zeros(4 * SR, dtype=np.float32)
    long[SR:2 * SR] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    sf.write(root / "long.wav", long, SR)
    sf.write(root / "ui" / "empty.wav", np.zeros(0, dtype=np.float32), SR)
    (root / "ui" / "bad.wav").write_bytes(b"RIFF....WAVE and nothing else")
    return root


ONE_CLIP = {"drums/tom.wav": ("drums", 0.3), "drums/kick.flac": ("drums", 0.1),
            "ui/message.ogg": ("ui", 0.31), "ui/tick.wav": ("ui", 0.02),
            "ui/silence.wav": ("ui", 3.0)}


def check_every_readable_file(table: pd.DataFrame, root) -> None:
    sources = table["source"].map(lambda path: str(path)[len(str(root)) + 1:])
    for name, (label, seconds) in ONE_CLIP.items():
        rows = table[sources == name]
        assert len(rows) == 1, (name, list(table["audio"]))
        assert rows["label"].iloc[0] == label
        assert rows["start"].iloc[0] == 0.0
        assert rows["end"].iloc[0] == pytest.approx(seconds, abs=0.002)
        assert rows["audio"].iloc[0] == f"{root / name}#t=0,{rows['end'].iloc[0]:g}"
    cut = table[sources == "ui/cut.wav"]  # read as far as it goes
    assert len(cut) == 1 and 0 < cut["end"].iloc[0] <= 1.0 + 1e-6
    long = table[sources == "long.wav"]  # a long recording is still cut at its silences
    assert len(long) == 1 and long["start"].iloc[0] == pytest.approx(0.95, abs=0.03)
    assert long["end"].iloc[0] == pytest.approx(2.05, abs=0.03)
    assert not sources.isin(["ui/empty.wav", "ui/bad.wav"]).any()


def test_cli_nonsilent_keeps_short_one_shots_and_silence_and_names_the_rest(
        library, tmp_path, capsys):
    out = tmp_path / "clips.csv"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["export", str(library), str(out), "--segment", "nonsilent"]) == 0
    check_every_readable_file(pd.read_csv(out), library)
    said = " ".join(str(w.message) for w in caught) + capsys.readouterr().err
    assert "2 file(s) could not be segmented" in said, said
    assert f"{library / 'ui' / 'empty.wav'}: no audio in it" in said, said
    assert str(library / "ui" / "bad.wav") in said, said


def test_from_folder_nonsilent_gives_every_readable_file_a_row(library):
    with pytest.warns(UserWarning, match="2 file.s. could not be segmented") as caught:
        dataset = AudioDataset.from_folder(library, segment={"mode": "nonsilent"})
    assert "empty.wav: no audio in it" in str(caught[0].message)
    check_every_readable_file(dataset.to_pandas(), library)
    assert set(dataset.label_order) == {"drums", "ui"}


def test_fixed_windows_name_an_empty_file_too(library):
    """``--segment 5`` kept short files whole already, but an empty one vanished unsaid."""
    with pytest.warns(UserWarning, match="2 file.s. could not be segmented") as caught:
        dataset = AudioDataset.from_folder(library, segment=5.0)
    assert "empty.wav: no audio in it" in str(caught[0].message)
    table = dataset.to_pandas()
    assert len(table) == 7 and not table["audio"].str.contains("empty.wav").any()


@pytest.mark.parametrize("segment", [None, "nonsilent"])
def test_a_label_folder_added_later_joins_the_label_order(library, tmp_path, capsys,
                                                          monkeypatch, segment):
    """``mkdir "lib/door bells"; cp x.oga "lib/door bells/"``, serve again: the new label
    has a colour at once and after the workspace is opened again; undo takes the rows out."""
    from hover_audio.app.opening import parse_segment

    monkeypatch.setenv("HOVER_AUDIO_HOME", str(tmp_path / "home"))
    (library / "ui" / "empty.wav").unlink()
    (library / "ui" / "bad.wav").unlink()
    cut = parse_segment(segment)
    dataset = open_attached(str(library), None, cut)
    workspace = dataset.workspace
    assert "door bells" not in dataset.label_order
    dataset.close()
    (library / "door bells").mkdir()
    sf.write(library / "door bells" / "ding.oga", hit(0.5, 0.2, 660.0), SR, format="OGG",
             subtype="VORBIS")
    sf.write(library / "door bells" / "dong.wav", hit(0.5, 0.2, 440.0), SR)
    capsys.readouterr()
    dataset = open_attached(str(library), None, cut)
    try:
        assert "2 new file(s)" in capsys.readouterr().out
        assert dataset.label_order[-1] == "door bells"
        assert dataset.label_order[:2] == ["drums", "ui"]  # the old colours stay
        assert (dataset.column("label") == "door bells").sum() == 2
    finally:
        dataset.close()
    again = AudioDataset.load(workspace, attach=False)
    assert again.label_order == ["drums", "ui", "door bells"]
    dataset = open_attached(str(library), None, cut)
    try:
        assert "new file(s)" not in capsys.readouterr().out
        assert dataset.label_order == ["drums", "ui", "door bells"]
        dataset.undo()  # the rows the folder brought in are one step
        assert "door bells" not in set(dataset.column("label"))
    finally:
        dataset.close()


def test_follow_folder_journal_only_keeps_the_label_order(library, tmp_path, monkeypatch):
    """Without a checkpoint the order would live only in memory: a workspace opened by
    another process (read only) right after the follow sees it too."""
    monkeypatch.setenv("HOVER_AUDIO_HOME", str(tmp_path / "home"))
    (library / "ui" / "bad.wav").unlink()
    dataset = open_attached(str(library), str(tmp_path / "ws"))
    dataset.close()
    (library / "door bells").mkdir()
    sf.write(library / "door bells" / "ding.wav", hit(0.5, 0.2, 660.0), SR)
    dataset = open_attached(str(library), str(tmp_path / "ws"))
    try:
        reader = AudioDataset.load(tmp_path / "ws", attach=False)
        assert "door bells" in reader.label_order
    finally:
        dataset.close()


def test_fixed_windows_of_a_file_not_a_whole_number_of_milliseconds(tmp_path):
    """The last window of a 44.1 kHz file ends between two milliseconds: its row's end
    column must agree with its key's fragment, or the whole folder is refused."""
    root = tmp_path / "lib"
    (root / "takes").mkdir(parents=True)
    sf.write(root / "takes" / "take.wav", np.full(110255, 0.1, dtype=np.float32), 44100)
    out = tmp_path / "clips.csv"
    assert main(["export", str(root), str(out), "--segment", "2"]) == 0
    table = pd.read_csv(out).sort_values("start")
    assert list(table["audio"].str.split("#t=").str[1]) == ["0,2", "2,2.5"]
    assert list(table["end"]) == [2.0, 2.5]
