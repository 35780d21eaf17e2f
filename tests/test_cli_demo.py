"""The embedded demo, the command line and the lean import."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import soundfile

from hover_audio import ABSTAIN, AudioDataset
from hover_audio.app.cli import main
from hover_audio.dataset.demo import DATA_DIR, load_dataset

HEAVY = ("librosa", "umap", "numba", "bokeh", "sklearn", "torch")


def test_import_loads_no_heavy_library():
    code = (
        "import sys, hover_audio\n"
        "from hover_audio import AudioDataset, SupervisableAudioDataset\n"
        "from hover_audio.app import cli\n"
        "from hover_audio.dataset import demo\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_console_script_help():
    exe = Path(sys.executable).with_name("hover-audio")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "demo" in out.stdout and "export" in out.stdout


def test_demo_dataset_is_split_like_hovers():
    ds = load_dataset()
    table = ds.to_pandas()
    assert len(table) == 1000
    assert table["SUBSET"].value_counts().to_dict() == {
        "raw": 500, "train": 300, "dev": 100, "test": 100
    }
    assert set(table["true_label"]) == {
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"
    }
    raw = table[table["SUBSET"] == "raw"]
    labeled = table[table["SUBSET"] != "raw"]
    assert (raw["label"] == ABSTAIN).all()
    assert (labeled["label"] == labeled["true_label"]).all()
    assert ds.classes == sorted(set(table["true_label"]))
    # every digit is split the same way (stratified)
    per_digit = pd.crosstab(table["true_label"], table["SUBSET"])
    assert (per_digit["train"] == 30).all() and (per_digit["test"] == 10).all()


def test_demo_split_is_seeded():
    first = load_dataset(seed=0).to_pandas()["SUBSET"]
    assert first.equals(load_dataset(seed=0).to_pandas()["SUBSET"])
    assert not first.equals(load_dataset(seed=1).to_pandas()["SUBSET"])


def test_demo_clips_are_real_audio():
    table = load_dataset().to_pandas()
    assert all(Path(path).is_file() for path in table["audio"])
    for path in table["audio"].iloc[::100]:
        samples, rate = soundfile.read(path)
        assert rate == 16000 and samples.ndim == 1
        assert 0.2 < len(samples) / rate < 2.0
        assert abs(samples).max() > 0.05
    total = sum(p.stat().st_size for p in DATA_DIR.iterdir())
    assert total <= 15 * 2**20
    # names must not give the answer away
    assert not any(digit in Path(p).name for p in table["audio"] for digit in ("one", "two"))


def test_cli_demo_prints_population(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HOVER_AUDIO_CACHE", str(tmp_path))
    assert main(["demo", "--no-serve", "--fresh"]) == 0
    out = capsys.readouterr().out
    assert "raw 500" in out
    row = next(line for line in out.splitlines() if line.startswith("ABSTAIN"))
    assert row.split() == ["ABSTAIN", "500", "0", "0", "0"]


def test_cli_info_and_export_on_a_workspace(tmp_path, capsys):
    ds = load_dataset()
    ds.set_labels(ds.keys[:3], "maybe")
    folder = ds.save(tmp_path / "ws")
    ds.close()
    assert main(["info", str(folder)]) == 0
    assert "maybe" in capsys.readouterr().out
    assert main(["export", str(folder), str(tmp_path / "out.csv")]) == 0
    exported = AudioDataset.from_file(tmp_path / "out.csv").to_pandas()
    assert (exported["label"] == "maybe").sum() == 3


def test_cli_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.csv")]) == 1
    assert "hover-audio: error: no such folder or file" in capsys.readouterr().err


def test_cli_vectorize_a_folder_into_a_workspace(tmp_path, capsys):
    import numpy as np

    folder = tmp_path / "sounds"
    (folder / "beep").mkdir(parents=True)
    t = np.arange(8000) / 16000
    for i in range(3):
        soundfile.write(folder / "beep" / f"b{i}.wav", 0.3 * np.sin(2 * np.pi * (400 + 100 * i) * t),
                        16000)
    (folder / "Track 18.wav").write_bytes(b"broken")
    data = (folder / "beep" / "b0.wav").read_bytes()
    (folder / "beep" / "cut.wav").write_bytes(data[:len(data) // 2])  # a download cut short
    code = main(["vectorize", str(folder), "--workspace", str(tmp_path / "ws"),
                 "--cache-dir", str(tmp_path / "cache"), "--quiet", "--workers", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "vectorized 4 of 5 clips" in out and "Track 18.wav" in out
    assert "note: cut short:" in out and "cut.wav: holds 0.2" in out and "of the 0.500 s" in out
    ds = AudioDataset.load(tmp_path / "ws", attach=False)
    assert ds.vectors.shape[0] == 5
    assert np.isnan(ds.vectors).all(axis=1).sum() == 1
