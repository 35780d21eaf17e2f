"""Tags into the files themselves (mutagen), per format: written, read back by mutagen on its
own, the audio unchanged, restored exactly, a dry run changing no byte, bad files reported."""
from __future__ import annotations

import os
import stat

import mutagen
import numpy as np
import pytest
import soundfile

from . import audio_corpus as corpus
from hover_audio.audio.decode import decode
from hover_audio.audio.file_tags import TagError, read_tags, restore, snapshot, write_tags

RATE = 16000
FORMATS = {  # suffix: soundfile options
    ".wav": dict(format="WAV", subtype="PCM_16"),
    ".flac": dict(format="FLAC"),
    ".ogg": dict(format="OGG", subtype="VORBIS"),
    ".opus": dict(format="OGG", subtype="OPUS"),
    ".mp3": dict(format="MP3"),
    ".aiff": dict(format="AIFF", subtype="PCM_16"),
}


def make(tmp_path, suffix):
    rate = 48000 if suffix == ".opus" else RATE
    path = tmp_path / f"Track 18{suffix}"
    soundfile.write(path, corpus.tone(440, 1.0, rate), rate, **FORMATS[suffix])
    return path


def mutagen_view(path):
    """What mutagen itself reads, independently of our reader."""
    audio = mutagen.File(str(path))
    if path.suffix == ".wav":
        return path.read_bytes()
    return {key: str(value) for key, value in (audio.tags or {}).items()}


@pytest.mark.parametrize("suffix", list(FORMATS))
def test_tags_go_in_and_come_out_exactly(tmp_path, suffix):
    path = make(tmp_path, suffix)
    samples = decode(path).samples
    original = path.read_bytes()
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    os.chmod(path, 0o640)
    state = snapshot(path)
    # a dry run writes nothing
    before, after = write_tags(path, ["applause", "crowd"], dry_run=True)
    assert (before, after) == (set(), {"applause", "crowd"}) and path.read_bytes() == original
    # tags written, merged with later ones, read back by mutagen on its own
    write_tags(path, ["applause", "crowd"])
    before, after = write_tags(path, ["crowd", "cheering"])
    assert before == {"applause", "crowd"} and after == {"applause", "cheering", "crowd"}
    assert read_tags(path) == {"applause", "cheering", "crowd"}
    view = mutagen_view(path)
    if suffix == ".wav":
        assert b"IKEY" in view and b"applause;cheering;crowd" in view
    elif suffix in (".mp3", ".aiff"):
        assert "applause" in view["TCON"] and "applause;cheering;crowd" in view[
            "TXXX:hover-audio tags"]
    else:
        assert "applause" in view["genre"] and "applause, cheering, crowd" in view["keywords"]
    # the audio is the same, the file keeps its permissions and times
    assert np.array_equal(decode(path).samples, samples)
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert info.st_mtime_ns == 1_600_000_000_000_000_000
    # restoring the snapshot gives the previous tags back exactly
    restore(path, state)
    assert snapshot(path) == state and read_tags(path) == set()
    assert np.array_equal(decode(path).samples, samples)


def test_a_users_own_tags_are_kept(tmp_path):
    path = make(tmp_path, ".flac")
    audio = mutagen.File(str(path))
    audio["GENRE"] = ["field recording"]
    audio["ARTIST"] = ["me"]
    audio.save()
    write_tags(path, ["rain"])
    audio = mutagen.File(str(path))
    assert set(audio["GENRE"]) == {"field recording", "rain"} and audio["ARTIST"] == ["me"]


@pytest.mark.parametrize("suffix", list(FORMATS))
def test_a_tag_with_a_comma_comes_back_whole(tmp_path, suffix):
    path = make(tmp_path, suffix)
    write_tags(path, ["barking, loud", "dog"])
    assert read_tags(path) == {"barking, loud", "dog"}


def test_other_tools_comma_separated_keywords_are_read(tmp_path):
    path = make(tmp_path, ".ogg")
    audio = mutagen.File(str(path))
    audio["KEYWORDS"] = ["rain, thunder"]
    audio.save()
    assert read_tags(path) == {"rain", "thunder"}
    write_tags(path, ["storm"])
    assert read_tags(path) == {"rain", "storm", "thunder"}


def test_bad_files_are_reported_by_name(tmp_path):
    readonly = make(tmp_path, ".wav")
    os.chmod(readonly, 0o444)
    content = readonly.read_bytes()
    with pytest.raises(TagError, match="read-only"):
        write_tags(readonly, ["x"])
    assert readonly.read_bytes() == content
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\xff\xff\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\0" * 8)
    with pytest.raises(TagError, match=r"corrupt\.wav.*corrupt RIFF"):
        write_tags(corrupt, ["x"])
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(TagError, match="cannot hold tags"):
        write_tags(other, ["x"])


def test_a_link_is_written_through_and_a_hard_linked_file_refused(tmp_path):
    target = make(tmp_path, ".flac")
    link = tmp_path / "link.flac"
    link.symlink_to(target)
    state = snapshot(link)
    write_tags(link, ["rain"])
    assert link.is_symlink() and read_tags(target) == {"rain"}
    restore(link, state)
    assert link.is_symlink() and read_tags(target) == set()
    twin = tmp_path / "twin.flac"
    os.link(target, twin)
    content = target.read_bytes()
    with pytest.raises(TagError, match="2 hard links"):
        write_tags(twin, ["rain"])
    assert target.read_bytes() == content and os.stat(target).st_nlink == 2


def test_the_tag_command_skips_a_file_gone_since_and_tags_the_rest(tmp_path, capsys):
    import pandas as pd

    from hover_audio import AudioDataset, MFCCVectorizer
    from hover_audio.app.cli import main

    kept, gone = make(tmp_path, ".flac"), make(tmp_path, ".wav")
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(kept), str(gone)],
                                                "label": ["rain", "door"],
                                                "SUBSET": ["train", "train"]}))
    ds.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), workers=1, progress=False)
    ds.save(tmp_path / "ws")  # (with vectors: files changed since then are checked first)
    ds.close()
    gone.unlink()
    assert main(["tag", str(tmp_path / "ws"), "--dry-run"]) == 1  # (a file would be skipped)
    assert "No such file" in capsys.readouterr().err
    assert main(["tag", str(tmp_path / "ws")]) == 1
    captured = capsys.readouterr()
    assert "tagged 1 file(s)" in captured.out
    assert f"not tagged: {gone}: " in captured.err and "No such file" in captured.err
    assert read_tags(kept) == {"rain"}


def test_the_tag_command_writes_labels_and_synonyms_and_untag_restores(tmp_path, capsys):
    import pandas as pd

    from hover_audio import AudioDataset
    from hover_audio.app.cli import main

    library = tmp_path / "sfx"
    library.mkdir()
    paths = {suffix: make(library, suffix) for suffix in (".wav", ".flac", ".mp3")}
    wav, flac, mp3 = (paths[s] for s in (".wav", ".flac", ".mp3"))
    long = library / "long.wav"
    soundfile.write(long, corpus.tone(300, 3.0, RATE), RATE)
    originals = {path: path.read_bytes() for path in (*paths.values(), long)}
    sounds = {path: decode(path).samples for path in paths.values()}
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [str(wav), str(flac), str(mp3), f"{long}#t=0,1"],
        "label": ["clapping", "rain", "ABSTAIN", "clapping"],
        "SUBSET": ["train", "train", "raw", "train"]}))
    ds.add_tags([str(mp3)], ["door"])
    ds.save(tmp_path / "ws")
    ds.close()
    synonyms = tmp_path / "synonyms.csv"
    synonyms.write_text("tag,synonym\nclapping,applause\nclapping,ovation\n")
    ws = str(tmp_path / "ws")
    assert main(["tag", ws, "--synonyms", str(synonyms), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Track 18.wav" in out and "applause, clapping, ovation" in out
    assert all(path.read_bytes() == data for path, data in originals.items())

    assert main(["tag", ws, "--synonyms", str(synonyms)]) == 0
    out = capsys.readouterr().out
    assert read_tags(wav) == {"applause", "clapping", "ovation"} and read_tags(flac) == {"rain"}
    assert read_tags(mp3) == set()  # unlabeled: nothing from labels
    assert long.read_bytes() == originals[long]  # a range row never writes into its file
    assert "range/channel row(s)" in out and "range-tags-" in out
    assert main(["tag", ws, "--from", "tags"]) == 0
    assert read_tags(mp3) == {"door"}
    manifests = sorted((tmp_path / "ws" / "tag-manifests").glob("*.json"))
    for manifest in reversed(manifests):
        assert main(["untag", str(manifest)]) == 0
    for path in paths.values():
        assert read_tags(path) == set()
        assert np.array_equal(decode(path).samples, sounds[path])


def test_a_library_tagged_before_opens_with_its_tags(tmp_path):
    from hover_audio import AudioDataset

    library = tmp_path / "sfx"
    library.mkdir()
    tagged = make(library, ".flac")
    write_tags(tagged, ["applause", "crowd"])
    soundfile.write(library / "plain.wav", corpus.tone(300, 0.5, RATE), RATE)
    ds = AudioDataset.from_folder(library)
    assert ds.tags_of(str(tagged)) == {"applause", "crowd"}
    assert ds.tags_of(str(library / "plain.wav")) == set()
    untagged = tmp_path / "none"
    untagged.mkdir()
    soundfile.write(untagged / "a.wav", corpus.tone(300, 0.5, RATE), RATE)
    assert "tags" not in AudioDataset.from_folder(untagged).columns  # no empty column


def test_tag_from_suggested_writes_the_models_tags(tmp_path, capsys):
    import pandas as pd

    from hover_audio import AudioDataset, MFCCVectorizer
    from hover_audio.app.cli import main

    library = tmp_path / "sfx"
    library.mkdir()
    rows = []
    for kind, freq in (("low", 200), ("high", 3000)):
        for i in range(5):
            path = library / f"{kind}{i}.wav"
            soundfile.write(path, corpus.tone(freq + 20 * i, 0.5, RATE), RATE)
            rows.append((str(path), kind if i < 4 else "ABSTAIN", "train" if i < 4 else "raw"))
    ds = AudioDataset.from_pandas(pd.DataFrame(rows, columns=["audio", "label", "SUBSET"]))
    ds.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), workers=1, progress=False)
    ds.save(tmp_path / "ws")
    ds.close()
    assert main(["tag", str(tmp_path / "ws"), "--from", "suggested", "--threshold", "0.5"]) == 0
    assert read_tags(library / "high4.wav") == {"high"}
    assert read_tags(library / "low4.wav") == {"low"}


def with_bext(path, description: bytes):
    """``path`` (a WAV file) with a version-0 ``bext`` chunk after ``fmt``."""
    import struct

    data = path.read_bytes()
    bext = description.ljust(256, b"\0") + b"\0" * (602 - 256)  # the rest, empty
    chunk = b"bext" + struct.pack("<I", len(bext)) + bext
    fmt_end = 12 + 8 + struct.unpack("<I", data[16:20])[0]
    body = data[:fmt_end] + chunk + data[fmt_end:]
    path.write_bytes(body[:4] + struct.pack("<I", len(body) - 8) + body[8:])
    return path


def test_a_broadcast_waves_description_is_kept_and_an_empty_one_gets_the_tags(tmp_path):
    """A BWF file's bext Description is often its only description: never overwritten."""
    path = with_bext(make(tmp_path, ".wav"), b"Recorded at the stadium")
    samples = decode(path).samples
    original = path.read_bytes()
    state = snapshot(path)
    assert state["bext"] == "Recorded at the stadium"
    write_tags(path, ["crowd"])
    assert snapshot(path)["bext"] == "Recorded at the stadium"
    assert read_tags(path) == {"crowd"}
    assert np.array_equal(decode(path).samples, samples)
    restore(path, state)
    assert snapshot(path) == state and path.read_bytes() == original
    empty = tmp_path / "empty"
    empty.mkdir()
    path = with_bext(make(empty, ".wav"), b"")
    write_tags(path, ["crowd"])
    assert snapshot(path)["bext"] == "hover-audio tags: crowd"
    write_tags(path, ["rain"])
    assert snapshot(path)["bext"] == "hover-audio tags: crowd, rain"  # (ours: rewritten)


def test_files_changed_since_they_were_vectorized_are_reported_and_skipped(tmp_path, capsys):
    import pandas as pd

    from hover_audio import AudioDataset, MFCCVectorizer
    from hover_audio.app.cli import main

    library = tmp_path / "sfx"
    library.mkdir()
    kept, changed = make(library, ".wav"), make(library, ".flac")
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(kept), str(changed)],
                                                "label": ["a", "b"], "SUBSET": ["train"] * 2}))
    ds.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), workers=1, progress=False)
    ds.save(tmp_path / "ws")
    ds.close()
    later = (tmp_path / "ws" / "vectors.npy").stat().st_mtime + 60
    os.utime(kept, (later, later))  # touched only: its audio is the same
    soundfile.write(changed, corpus.tone(880, 1.0, RATE), RATE, **FORMATS[".flac"])  # edited
    assert main(["tag", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err
    assert "Track 18.flac: its audio changed since the workspace's vectors were made" in err
    assert read_tags(kept) == {"a"} and read_tags(changed) == set()
    assert main(["tag", str(tmp_path / "ws"), "--even-if-changed"]) == 0
    assert read_tags(changed) == {"b"}
