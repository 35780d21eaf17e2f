"""write_label_tree: labeled clips as out_dir/<label>/<file>, on real files in tmp_path."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from hover_audio import AudioDataset
from hover_audio.dataset.label_tree import safe_name, write_label_tree
from hover_audio.dataset.table_files import read_table

SR = 16000


def tone(path: Path, freq: float, seconds: float = 1.0, sr: int = SR) -> Path:
    """Write a sine tone WAV and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    soundfile.write(str(path), 0.5 * np.sin(2 * np.pi * freq * t), sr, subtype="PCM_16")
    return path


def steps(path: Path, freqs=(440.0, 880.0, 1320.0), sr: int = SR) -> Path:
    """One second of each frequency in turn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(sr) / sr
    samples = np.concatenate([0.5 * np.sin(2 * np.pi * f * t) for f in freqs])
    soundfile.write(str(path), samples, sr, subtype="PCM_16")
    return path


def dominant(samples: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / sr)[spectrum.argmax()])


def dataset(rows) -> AudioDataset:
    frame = pd.DataFrame(rows, columns=["audio", "label", "SUBSET"])
    return AudioDataset.from_pandas(frame)


@pytest.fixture
def library(tmp_path) -> dict:
    """Four real clips: two labeled, one raw scratch label, one ABSTAIN."""
    src = tmp_path / "src"
    return {
        "dog": tone(src / "Track 01.wav", 300),
        "cat": tone(src / "Track 02.wav", 600),
        "scratch": tone(src / "Track 03.wav", 900),
        "unknown": tone(src / "Track 04.wav", 1200),
    }


def library_dataset(library) -> AudioDataset:
    return dataset([
        (str(library["dog"]), "dog", "train"),
        (str(library["cat"]), "cat", "test"),
        (str(library["scratch"]), "dog", "raw"),
        (str(library["unknown"]), "ABSTAIN", "raw"),
    ])


def tree_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)).replace(os.sep, "/")
                  for p in root.rglob("*") if not p.is_dir())


def test_link_mode_links_labeled_clips_and_writes_the_report(tmp_path, library):
    out = tmp_path / "by_label"
    report = write_label_tree(library_dataset(library), out)

    assert tree_files(out) == ["cat/Track 02.wav", "dog/Track 01.wav", "dog/Track 03.wav",
                               "labels.csv"]
    for name, source in (("dog/Track 01.wav", library["dog"]), ("cat/Track 02.wav", library["cat"])):
        target = out / name
        assert target.is_symlink()
        assert Path(os.readlink(target)) == source.absolute()
        assert target.read_bytes() == source.read_bytes()
    assert list(report.columns) == ["audio", "label", "SUBSET", "path", "action", "message"]
    assert set(report["action"]) == {"linked"}
    assert str(library["unknown"]) not in set(report["audio"])  # ABSTAIN left out
    on_disk = read_table(out / "labels.csv")
    assert on_disk["path"].tolist() == report["path"].tolist()
    assert on_disk["audio"].tolist() == report["audio"].tolist()
    # the tree reads back as a labeled folder, with the same labels
    back = AudioDataset.from_folder(out).to_pandas()
    assert sorted(zip((Path(p).name for p in back["audio"]), back["label"])) == [
        ("Track 01.wav", "dog"), ("Track 02.wav", "cat"), ("Track 03.wav", "dog")]


def test_copy_mode_copies_bytes_and_times(tmp_path, library):
    os.utime(library["dog"], (1_000_000_000, 1_000_000_000))
    out = tmp_path / "copies"
    report = write_label_tree(library_dataset(library), out, mode="copy")

    target = out / "dog" / "Track 01.wav"
    assert not target.is_symlink() and target.is_file()
    assert target.read_bytes() == library["dog"].read_bytes()
    assert int(target.stat().st_mtime) == 1_000_000_000
    assert set(report["action"]) == {"copied"}
    library["dog"].unlink()  # a copy outlives its source
    assert target.is_file()


def test_hardlink_mode_shares_the_inode(tmp_path, library):
    out = tmp_path / "hard"
    report = write_label_tree(library_dataset(library), out, mode="hardlink")

    target = out / "cat" / "Track 02.wav"
    assert not target.is_symlink()
    assert target.stat().st_ino == library["cat"].stat().st_ino
    assert library["cat"].stat().st_nlink == 2
    assert set(report["action"]) == {"hardlinked"}


def test_abstain_folder_and_subset_filter(tmp_path, library):
    ds = library_dataset(library)
    everything = write_label_tree(ds, tmp_path / "all", abstain="unlabeled")
    assert (tmp_path / "all" / "unlabeled" / "Track 04.wav").is_symlink()
    assert len(everything) == 4

    only_train = write_label_tree(ds, tmp_path / "train", include=("train",))
    assert only_train["path"].tolist() == ["dog/Track 01.wav"]
    assert tree_files(tmp_path / "train") == ["dog/Track 01.wav", "labels.csv"]

    raw_only = write_label_tree(ds, tmp_path / "raw", include="raw", abstain="todo")
    assert sorted(raw_only["path"]) == ["dog/Track 03.wav", "todo/Track 04.wav"]


def test_labels_become_safe_folder_names_inside_out_dir(tmp_path, library):
    labels = ["../evil", "<script>", ".hidden", "a/b", "a_b", "chien 🐕 éte", "line\nbreak",
              "CON", "labels.csv", "..", "Dog", "dog"]
    clips = [tone(tmp_path / "src" / f"clip{i:02d}.wav", 200 + 50 * i) for i in range(len(labels))]
    out = tmp_path / "deep" / "tree"
    report = write_label_tree(
        dataset([(str(c), label, "train") for c, label in zip(clips, labels)]), out)

    assert set(report["action"]) == {"linked"}
    folders = dict(zip(report["label"], (p.split("/")[0] for p in report["path"])))
    assert folders["../evil"] == "_evil"
    assert folders["<script>"] == "_script_"
    assert folders[".hidden"] == "hidden"
    assert folders["a_b"] == "a_b"  # the label that is already a safe name keeps it
    assert folders["a/b"] == "a_b (2)"  # ... and a label that only sanitizes to it does not
    assert folders["chien 🐕 éte"] == "chien 🐕 éte"  # unicode kept
    assert folders["line\nbreak"] == "line_break"
    assert folders["CON"] == "_CON"
    assert folders["labels.csv"] != "labels.csv"  # never the report file
    assert folders[".."] == "_"
    assert folders["Dog"].casefold() != folders["dog"].casefold()  # case-insensitive disks
    assert len(set(folders.values())) == len(labels)
    for path in report["path"]:
        assert (out / path).parent.resolve().parent == out.resolve()
    for name in os.listdir(out):
        assert not name.startswith(".") and "/" not in name and "<" not in name
    # nothing escaped: the only entries next to the tree are the tree itself
    assert sorted(os.listdir(tmp_path / "deep")) == ["tree"]
    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep" / "evil").exists()


def test_safe_name_edge_cases():
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert safe_name("a\u202eb") == "a_b"  # a bidirectional override, used for spoofing
    assert safe_name("trailing dots...") == "trailing dots"
    assert safe_name("   ") == "_"
    assert safe_name("x" * 300) == "x" * 200
    assert len(safe_name("é" * 300).encode()) <= 200  # cut on a character boundary
    assert safe_name("é" * 300) == "é" * 100


def test_file_name_collisions_get_numbers(tmp_path):
    first = tone(tmp_path / "disc1" / "Track 01.wav", 300)
    second = tone(tmp_path / "disc2" / "Track 01.wav", 400)
    third = tone(tmp_path / "disc3" / "track 01.wav", 500)  # one file on a case-insensitive disk
    other = tone(tmp_path / "disc4" / "Track 01.wav", 600)
    ds = dataset([(str(first), "bell", "train"), (str(second), "bell", "train"),
                  (str(third), "bell", "dev"), (str(other), "horn", "train")])
    out = tmp_path / "out"
    report = write_label_tree(ds, out, mode="copy")

    assert report["path"].tolist() == ["bell/Track 01.wav", "bell/Track 01 (2).wav",
                                       "bell/track 01 (3).wav", "horn/Track 01.wav"]
    for source, path in zip((first, second, third, other), report["path"]):
        assert (out / path).read_bytes() == source.read_bytes()


def test_ranges_are_cut_out_as_wav(tmp_path):
    long = steps(tmp_path / "src" / "Three tones.flac")
    table = pd.DataFrame({
        "audio": [f"{long}#t=1,2", str(long), str(long)],
        "label": ["high", "low", "low"],
        "SUBSET": ["train", "train", "train"],
        "start": [None, 0.0, 2.0],
        "end": [None, 1.0, 3.0],
    })
    out = tmp_path / "cuts"
    report = write_label_tree(AudioDataset.from_pandas(table), out, mode="link")

    assert report["action"].tolist() == ["cut", "cut", "cut"]
    assert report["path"].tolist() == ["high/Three tones [1-2 s].wav",
                                       "low/Three tones [0-1 s].wav",
                                       "low/Three tones [2-3 s].wav"]
    for path, freq in zip(report["path"], (880.0, 440.0, 1320.0)):
        target = out / path
        assert not target.is_symlink()  # a range is never a link to the whole file
        samples, sr = soundfile.read(str(target))
        info = soundfile.info(str(target))
        assert (info.format, info.subtype, sr) == ("WAV", "PCM_24", SR)
        assert abs(len(samples) - SR) <= 1
        assert abs(dominant(samples, sr) - freq) < 5


def test_urls_are_skipped_with_a_report_row_and_errors_do_not_stop(tmp_path, library):
    missing = tmp_path / "src" / "gone.wav"
    ds = dataset([
        ("http://127.0.0.1:9/clip.wav", "dog", "train"),
        ("https://example.org/a.ogg#t=1,2", "dog", "train"),
        (str(missing), "dog", "train"),
        (str(library["dog"]), "dog", "train"),
    ])
    out = tmp_path / "out"
    report = write_label_tree(ds, out)

    assert report["action"].tolist() == ["skipped_url", "skipped_url", "error", "linked"]
    assert report["path"].isna().tolist() == [True, True, True, False]
    assert "gone.wav" in report["message"][2]
    assert tree_files(out) == ["dog/Track 01.wav", "labels.csv"]
    assert read_table(out / "labels.csv")["action"].tolist() == report["action"].tolist()


def test_refuses_a_non_empty_folder_and_bad_arguments(tmp_path, library):
    ds = library_dataset(library)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        write_label_tree(ds, out)
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="mode"):
        write_label_tree(ds, tmp_path / "x", mode="move")
    with pytest.raises(ValueError, match="subset"):
        write_label_tree(ds, tmp_path / "x", include=("training",))
    with pytest.raises(ValueError, match="abstain"):
        write_label_tree(ds, tmp_path / "x", abstain="")
    assert not (tmp_path / "x").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(write_label_tree(ds, empty)) == 3  # an existing empty folder is fine


def test_accepts_a_plain_table(tmp_path, library):
    table = library_dataset(library).to_pandas()
    report = write_label_tree(table, tmp_path / "out", mode="copy")
    assert sorted(report["path"]) == ["cat/Track 02.wav", "dog/Track 01.wav", "dog/Track 03.wav"]
