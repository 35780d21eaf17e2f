"""A user's files are never left changed without a record to undo it: tags with the separator
written and read back alike, a copy that does not read back thrown away, ``untag`` keeping
edits made after the ``tag`` run, and skipped files making both commands exit 1."""
from __future__ import annotations

import json
import os
import struct

import mutagen
import pandas as pd
import pytest
import soundfile

from . import audio_corpus as corpus
from hover_audio import AudioDataset
from hover_audio.app.cli import main
from hover_audio.audio.file_tags import TagError, read_tags, restore, snapshot, write_tags

RATE = 16000
FORMATS = {".wav": dict(format="WAV", subtype="PCM_16"), ".flac": dict(format="FLAC"),
           ".mp3": dict(format="MP3")}


def make(folder, suffix, name="w"):
    path = folder / f"{name}{suffix}"
    soundfile.write(path, corpus.tone(440, 0.5, RATE), RATE, **FORMATS[suffix])
    return path


def workspace(tmp_path, labels: dict):
    """A saved workspace (no vectors) whose whole-file rows carry ``labels``."""
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [str(path) for path in labels], "label": list(labels.values()),
        "SUBSET": ["train"] * len(labels)}))
    ds.save(tmp_path / "ws")
    ds.close()
    return str(tmp_path / "ws")


def manifests(tmp_path):
    return sorted((tmp_path / "ws" / "tag-manifests").glob("*.json"))


def test_a_label_with_the_separator_is_written_as_its_parts_and_undone(tmp_path, capsys):
    library = tmp_path / "semi2"
    library.mkdir()
    paths = [make(library, suffix) for suffix in FORMATS]
    originals = {path: (path.read_bytes(), snapshot(path)) for path in paths}
    ws = workspace(tmp_path, {path: "rock; pop" for path in paths})
    assert main(["tag", ws]) == 0
    captured = capsys.readouterr()
    assert "tagged 3 file(s)" in captured.out and captured.err == ""
    assert "'rock; pop' is written as the tags 'pop', 'rock'" in captured.out
    assert all(read_tags(path) == {"pop", "rock"} for path in paths)
    wav, flac, mp3 = paths
    assert b"IKEY" in wav.read_bytes() and b"pop;rock\0" in wav.read_bytes()
    assert mutagen.File(str(flac))["GENRE"] == ["pop", "rock"]
    assert list(mutagen.File(str(mp3)).tags["TCON"].text) == ["pop", "rock"]
    reread = AudioDataset.from_folder(library)  # the folder reader sees the same tags
    assert all(reread.tags_of(str(path)) == {"pop", "rock"} for path in paths)
    assert main(["untag", str(manifests(tmp_path)[0])]) == 0
    assert all(snapshot(path) == state for path, (_, state) in originals.items())
    assert wav.read_bytes() == originals[wav][0]  # (mutagen re-pads FLAC and ID3 blocks)


@pytest.mark.parametrize("suffix", [".flac", ".mp3"])
def test_tags_other_tools_joined_with_either_separator_are_all_read(tmp_path, suffix):
    path = make(tmp_path, suffix)
    audio = mutagen.File(str(path))
    if suffix == ".flac":
        audio["GENRE"], audio["KEYWORDS"] = ["Rock"], ["rain, thunder; storm"]
        audio.save()
    else:
        from mutagen.id3 import ID3, TCON

        tags = ID3()
        tags.add(TCON(encoding=3, text=["Rock; thunder"]))
        tags.save(str(path))
    write_tags(path, ["wind;gust"])
    expected = ({"Rock", "rain", "thunder", "storm", "wind", "gust"} if suffix == ".flac"
                else {"Rock", "thunder", "wind", "gust"})
    assert read_tags(path) == expected
    assert AudioDataset.from_folder(tmp_path).tags_of(str(path)) == expected


def test_a_copy_that_does_not_read_back_as_written_leaves_the_file_as_it_was(tmp_path):
    path = make(tmp_path, ".mp3")
    write_tags(path, ["rain"])
    content = path.read_bytes()
    state = snapshot(path)
    state["TCON"] = ["a\0b"]  # ID3 splits text at NUL: it reads back as two genres
    with pytest.raises(TagError, match=r"w\.mp3: the restored fields do not read back"):
        restore(path, state)
    assert path.read_bytes() == content
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no copy left


def test_a_tag_with_control_characters_is_refused_by_name(tmp_path):
    path = make(tmp_path, ".wav")
    content = path.read_bytes()
    with pytest.raises(TagError, match=r"w\.wav: the tag\(s\) 'a\\x01b' contain control"):
        write_tags(path, ["fine", "a\x01b"])
    assert path.read_bytes() == content


def test_a_broadcast_wave_description_in_latin_1_is_restored_byte_for_byte(tmp_path):
    path = make(tmp_path, ".wav")
    data = path.read_bytes()
    bext = "Caf\xe9 au lait".encode("latin-1").ljust(602, b"\0")
    fmt_end = 12 + 8 + struct.unpack("<I", data[16:20])[0]
    body = data[:fmt_end] + b"bext" + struct.pack("<I", len(bext)) + bext + data[fmt_end:]
    path.write_bytes(body[:4] + struct.pack("<I", len(body) - 8) + body[8:])
    original = path.read_bytes()
    state = snapshot(path)
    write_tags(path, ["caf\xe9"])
    assert read_tags(path) == {"caf\xe9"}
    restore(path, json.loads(json.dumps(state)))  # as a manifest holds it
    assert path.read_bytes() == original


def test_untag_keeps_tags_edited_after_the_tag_run_unless_told(tmp_path, capsys):
    kept, edited = make(tmp_path, ".flac", "kept"), make(tmp_path, ".flac", "edited")
    states = {path: snapshot(path) for path in (kept, edited)}
    ws = workspace(tmp_path, {kept: "rain", edited: "door"})
    assert main(["tag", ws]) == 0
    audio = mutagen.File(str(edited))
    audio["GENRE"] = list(audio["GENRE"]) + ["jazz"]  # someone's edit, after the run
    audio.save()
    manifest = str(manifests(tmp_path)[0])
    capsys.readouterr()
    assert main(["untag", manifest]) == 1
    captured = capsys.readouterr()
    assert f"skipped: {edited}: its tags changed after the `tag` run" in captured.err
    assert "--even-if-changed" in captured.err and "1 file(s) not restored" in captured.err
    assert read_tags(edited) == {"door", "jazz"} and snapshot(kept) == states[kept]
    assert main(["untag", manifest, "--even-if-changed"]) == 0
    assert "1 already had them" in capsys.readouterr().out
    assert snapshot(edited) == states[edited]


def test_an_interrupted_runs_manifest_still_guards_edits(tmp_path, capsys):
    path = make(tmp_path, ".wav")
    original = path.read_bytes()
    ws = workspace(tmp_path, {path: "rain"})
    assert main(["tag", ws]) == 0
    manifest = manifests(tmp_path)[0]
    record = json.loads(manifest.read_text())
    assert record["complete"] and record["tags"] == {str(path): ["rain"]}
    del record["written"]  # as the manifest written before the first file changes
    record["complete"] = False
    manifest.write_text(json.dumps(record))
    write_tags(path, ["edited"])
    assert main(["untag", str(manifest)]) == 1
    assert f"skipped: {path}" in capsys.readouterr().err
    assert main(["untag", str(manifest), "--even-if-changed"]) == 0
    assert path.read_bytes() == original


def test_tag_exits_1_with_a_summary_when_files_are_skipped(tmp_path, capsys):
    readonly, writable = make(tmp_path, ".wav", "ro"), make(tmp_path, ".flac", "ok")
    os.chmod(readonly, 0o444)
    content = readonly.read_bytes()
    ws = workspace(tmp_path, {readonly: "rain", writable: "rain"})
    assert main(["tag", ws, "--dry-run"]) == 1
    assert "1 file(s) would not be tagged" in capsys.readouterr().err
    assert main(["tag", ws]) == 1
    captured = capsys.readouterr()
    assert f"not tagged: {readonly}: read-only" in captured.err
    assert captured.err.strip().splitlines()[-1] == "1 file(s) were not tagged (listed above)"
    assert "tagged 1 file(s)" in captured.out and read_tags(writable) == {"rain"}
    assert readonly.read_bytes() == content and len(manifests(tmp_path)) == 1
