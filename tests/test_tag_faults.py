"""``hover-audio tag`` on real files made by ffmpeg: descriptions other tools wrote are kept,
a corrected label replaces the one written before, a file whose audio changed is skipped
however often the workspace was saved since, a killed run's temporary copies are removed
by the next run, and a file is tagged by what its content is, never by its name alone."""
from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import mutagen
import numpy as np
import pandas as pd
import pytest
import soundfile

from . import audio_corpus as corpus
from hover_audio import AudioDataset, MFCCVectorizer
from hover_audio.app.cli import main
from hover_audio.audio.decode import decode
from hover_audio.audio.file_tags import read_tags, snapshot

SINE = "sine=frequency={}:sample_rate=16000:duration=1"


def ffmpeg(path, *options, freq=440):
    """A one-second tone at ``path``, written by ffmpeg with ``options`` (metadata...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    corpus.ffmpeg("-f", "lavfi", "-i", SINE.format(freq), *options, str(path))
    return path


def workspace(tmp_path, labels: dict, vectors: bool = False, name: str = "ws") -> str:
    """A saved workspace whose whole-file rows carry ``labels`` (``{path: label}``)."""
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [str(path) for path in labels], "label": list(labels.values()),
        "SUBSET": ["train"] * len(labels)}))
    if vectors:
        ds.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), workers=1, progress=False)
    ds.save(tmp_path / name)
    ds.close()
    return str(tmp_path / name)


def relabel(ws: str, labels: dict) -> None:
    ds = AudioDataset.load(ws)
    for path, label in labels.items():
        ds.set_labels([str(path)], label)
    ds.save()
    ds.close()


def manifests(ws) -> list:
    return sorted(Path(ws, "tag-manifests").glob("*.json"))


# ------------------------------------------------------------------ fault 1
def test_descriptions_and_comments_other_tools_wrote_are_kept(tmp_path, capsys):
    library = tmp_path / "sfx"
    bwf = ffmpeg(library / "door.wav", "-write_bext", "1", "-metadata",
                 "description=Door slam, heavy wooden door", "-metadata", "comment=take 3")
    flac = ffmpeg(library / "door.flac", "-metadata", "description=Door slam, heavy wooden door")
    plain = ffmpeg(library / "plain.wav")
    originals = {path: (path.read_bytes(), snapshot(path)) for path in (bwf, flac, plain)}
    assert originals[bwf][1]["bext"] == "Door slam, heavy wooden door"
    assert originals[bwf][1]["ICMT"] == "take 3"
    ws = workspace(tmp_path, {bwf: "door", flac: "door", plain: "door"})
    assert main(["tag", ws]) == 0
    assert "tagged 3 file(s)" in capsys.readouterr().out
    after = snapshot(bwf)
    assert after["bext"] == "Door slam, heavy wooden door" and after["ICMT"] == "take 3"
    assert mutagen.File(str(flac))["DESCRIPTION"] == ["Door slam, heavy wooden door"]
    assert all(read_tags(path) == {"door"} for path in (bwf, flac, plain))
    assert snapshot(plain)["ICMT"] == "hover-audio tags: door"  # an empty comment: ours
    assert main(["untag", str(manifests(ws)[0])]) == 0
    assert all(snapshot(path) == state for path, (_, state) in originals.items())
    for wav in (bwf, plain):  # (mutagen re-pads FLAC blocks; a WAV comes back byte for byte)
        assert wav.read_bytes() == originals[wav][0]


def with_info(path, fields: dict) -> Path:
    """``path`` (a WAV file ffmpeg wrote with some INFO) with ``fields`` (``{id: bytes as
    stored}``) added to its INFO list, as another tool would have written them."""
    data = path.read_bytes()
    at = data.index(b"LIST")
    size = struct.unpack("<I", data[at + 4:at + 8])[0]
    body = data[at + 8:at + 8 + size] + b"".join(
        key + struct.pack("<I", len(raw)) + raw + b"\0" * (len(raw) & 1)
        for key, raw in fields.items())
    chunk = b"LIST" + struct.pack("<I", len(body)) + body
    data = data[:at] + chunk + data[at + 8 + size:]
    path.write_bytes(data[:4] + struct.pack("<I", len(data) - 8) + data[8:])
    return path


def test_a_riff_info_field_in_another_encoding_keeps_its_bytes(tmp_path):
    from hover_audio.audio.file_tags import restore, write_tags

    field = "Caf\xe9 cr\xe8me".encode("latin-1") + b"\0"  # as Windows tools write INFO
    path = with_info(ffmpeg(tmp_path / "cafe.wav", "-metadata", "title=x"), {b"IART": field})
    original, state = path.read_bytes(), snapshot(path)
    write_tags(path, ["cafe"])
    assert field in path.read_bytes()  # another field's bytes are never re-encoded
    restore(path, state)
    assert path.read_bytes() == original


def test_windows_encoded_keywords_are_read_tagged_and_untagged_without_loss(tmp_path, capsys):
    """Keywords and a comment a Windows tool wrote in its code page (Windows-1252: é, ö,
    the curly quote 0x92) were read as UTF-8 with U+FFFD for those bytes: the tags showed
    'Caf\ufffd', a tag run wrote them back that way into the file, and untag put back the
    mangled text."""
    keywords = "Caf\xe9; Str\xf6m; l\u2019\xe9t\xe9".encode("cp1252") + b"\0"
    comment = "prise n\xb03 \u2018proche\u2019".encode("cp1252") + b"\0"
    odd = b"\x81\xe9\0"  # 0x81 has no Windows-1252 character: read as Latin-1
    path = with_info(ffmpeg(tmp_path / "lib" / "take.wav", "-metadata", "title=x"),
                     {b"IKEY": keywords, b"ICMT": comment, b"ISBJ": odd})
    original = path.read_bytes()
    assert read_tags(path) == {"Caf\xe9", "Str\xf6m", "l\u2019\xe9t\xe9"}
    assert snapshot(path)["ICMT"] == "prise n\xb03 \u2018proche\u2019"
    assert AudioDataset.from_folder(tmp_path / "lib").tags_of(str(path)) == {
        "Caf\xe9", "Str\xf6m", "l\u2019\xe9t\xe9"}
    ws = workspace(tmp_path, {path: "rain"})
    assert main(["tag", ws]) == 0
    data = path.read_bytes()
    written = "Caf\xe9;Str\xf6m;l\u2019\xe9t\xe9;rain".encode("cp1252") + b"\0"
    assert written in data  # in its own code page
    assert comment in data and odd in data  # another tool's comment: untouched
    assert read_tags(path) == {"Caf\xe9", "Str\xf6m", "l\u2019\xe9t\xe9", "rain"}
    assert main(["untag", str(manifests(ws)[0])]) == 0
    assert path.read_bytes() == original
    capsys.readouterr()

    relabel(ws, {path: "\u96e8"})  # a character Windows-1252 lacks: that field in UTF-8
    assert main(["tag", ws]) == 0
    assert read_tags(path) == {"Caf\xe9", "Str\xf6m", "l\u2019\xe9t\xe9", "\u96e8"}
    assert snapshot(path)["ICMT"] == "prise n\xb03 \u2018proche\u2019"
    assert main(["untag", str(manifests(ws)[-1])]) == 0
    assert read_tags(path) == {"Caf\xe9", "Str\xf6m", "l\u2019\xe9t\xe9"}  # the text, if
    # not the bytes: the file no longer says which code page its keywords were in


def test_bytes_after_a_wavs_riff_are_kept_and_a_riff_size_that_misses_its_audio_is_ignored(
        tmp_path, capsys):
    """Some taggers append an ID3v1 tag to any file, after the WAV's RIFF: the file was
    refused as a corrupt RIFF (those bytes were read as a chunk), and a few stray bytes
    there were dropped by a tag run. Chunks past the RIFF's declared size (a size that
    leaves out the audio, an INFO list appended without counting it) are still read."""
    id3v1 = b"TAG" + b"Thunder".ljust(30, b"\0") + b"\0" * 95
    appended = ffmpeg(tmp_path / "lib" / "appended.wav")
    appended.write_bytes(appended.read_bytes() + id3v1)
    stray = ffmpeg(tmp_path / "lib" / "stray.wav")
    stray.write_bytes(stray.read_bytes() + b"\0\0\0")
    short = ffmpeg(tmp_path / "lib" / "short.wav")
    data = short.read_bytes()
    short.write_bytes(data[:4] + struct.pack("<I", 4 + 8 + 16) + data[8:])  # fmt only
    uncounted = with_info(ffmpeg(tmp_path / "lib" / "uncounted.wav", "-metadata", "title=x"),
                          {b"IKEY": b"storm\0"})
    data = uncounted.read_bytes()  # its INFO list moved last and left out of the RIFF size
    at = data.index(b"LIST")
    size = 8 + struct.unpack("<I", data[at + 4:at + 8])[0]
    data = data[:at] + data[at + size:] + data[at:at + size]
    uncounted.write_bytes(data[:4] + struct.pack("<I", len(data) - 8 - size) + data[8:])
    files = (appended, stray, short, uncounted)
    originals = {path: path.read_bytes() for path in files}
    samples = {path: decode(path).samples for path in files}
    assert read_tags(uncounted) == {"storm"}
    ws = workspace(tmp_path, {path: "thunder" for path in files})
    assert main(["tag", ws]) == 0
    assert "tagged 4 file(s)" in capsys.readouterr().out
    assert all(read_tags(path) == {"thunder"} for path in files[:3])
    assert read_tags(uncounted) == {"storm", "thunder"}
    assert uncounted.read_bytes().count(b"INFO") == 1  # (not a second list beside it)
    assert appended.read_bytes().endswith(id3v1) and stray.read_bytes().endswith(b"\0\0\0")
    for path in files:
        assert np.array_equal(decode(path).samples, samples[path])
    assert main(["untag", str(manifests(ws)[0])]) == 0
    assert all(path.read_bytes() == originals[path] for path in (appended, stray))
    assert snapshot(short)["IKEY"] is None


def test_a_manifest_of_an_earlier_version_restores_a_windows_encoded_comment(tmp_path, capsys):
    """Earlier versions recorded INFO text read as UTF-8, with U+FFFD for the bytes of a
    Windows code page; untag of their manifests must still match the file and keep the
    comment's bytes (it took the file for changed since, and with --even-if-changed wrote
    the U+FFFD text over the comment)."""
    comment = "prise n\xb03 \u2018proche\u2019".encode("cp1252") + b"\0"
    path = with_info(ffmpeg(tmp_path / "lib" / "take.wav", "-metadata", "title=x"),
                     {b"ICMT": comment})
    original = path.read_bytes()
    ws = workspace(tmp_path, {path: "rain"})
    assert main(["tag", ws]) == 0
    manifest = manifests(ws)[0]
    recorded = json.loads(manifest.read_text())
    for state in (recorded["files"][str(path)], recorded["written"][str(path)]):
        assert state["ICMT"] == "prise n\xb03 \u2018proche\u2019"
        state["ICMT"] = comment.rstrip(b"\0").decode("utf-8", errors="replace")  # as then
    manifest.write_text(json.dumps(recorded))
    assert main(["untag", str(manifest)]) == 0
    assert "restored the previous tags of 1 file(s)" in capsys.readouterr().out
    assert path.read_bytes() == original


def test_a_wav_without_its_last_pad_byte_is_tagged_and_stays_readable(tmp_path):
    """8-bit mono with an odd number of samples: some writers leave out the pad byte after
    the data chunk. A tag chunk appended after it must start at an even offset (it was
    written right after the odd byte: the copy read back corrupt and was thrown away)."""
    from hover_audio.audio.file_tags import restore, write_tags

    path = tmp_path / "click.wav"
    soundfile.write(path, corpus.tone(440, 1.0, 8001)[:4001], 8001, subtype="PCM_U8")
    data = path.read_bytes()
    assert len(data) % 2 == 0 and data.endswith(b"\0")  # soundfile pads it
    data = data[:-1]
    path.write_bytes(data[:4] + struct.pack("<I", len(data) - 8) + data[8:])
    samples, state = decode(path).samples, snapshot(path)
    write_tags(path, ["click", "short"])
    assert read_tags(path) == {"click", "short"}
    assert np.array_equal(decode(path).samples, samples)
    assert mutagen.File(str(path)) is not None and soundfile.info(str(path)).frames == 4001
    restore(path, state)
    assert snapshot(path) == state and read_tags(path) == set()


# ------------------------------------------------------------------ fault 2
@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3"])
def test_a_corrected_label_replaces_the_one_written_before(tmp_path, capsys, suffix):
    path = ffmpeg(tmp_path / "sfx" / f"bark{suffix}", "-metadata", "genre=Foley")
    assert read_tags(path) == {"Foley"}  # (another tool's genre, WAV's IGNR included)
    ws = workspace(tmp_path, {path: "dog"})
    assert main(["tag", ws]) == 0
    assert read_tags(path) == {"Foley", "dog"}
    relabel(ws, {path: "cat"})
    capsys.readouterr()
    assert main(["tag", ws, "--dry-run"]) == 0
    assert "Foley, dog -> Foley, cat" in capsys.readouterr().out
    assert main(["tag", ws]) == 0
    assert read_tags(path) == {"Foley", "cat"}  # the file's own genre kept, dog gone
    newest = manifests(ws)[-1]
    assert json.loads(newest.read_text())["ours"] == {str(path): ["cat"]}
    assert main(["untag", str(newest)]) == 0  # back to what the first run left
    assert read_tags(path) == {"Foley", "dog"}
    assert main(["tag", ws]) == 0  # the undone run is passed over: dog is still ours
    assert read_tags(path) == {"Foley", "cat"}


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3"])
def test_tags_are_merged_in_any_case_and_a_files_own_spelling_survives(tmp_path, suffix):
    """The workspace compares tags in any case; so do the files: a file holding "Rain"
    (another tool's genre) labeled "rain" gets no second "rain", synonyms are found for
    "RAIN", and a later run replacing what hover-audio wrote never takes "Rain" away."""
    path = ffmpeg(tmp_path / "sfx" / f"storm{suffix}", "-metadata", "genre=Rain")
    ws = workspace(tmp_path, {path: "rain"})
    synonyms = tmp_path / "synonyms.csv"
    synonyms.write_text("RAIN,Precipitation\n")
    assert main(["tag", ws, "--synonyms", str(synonyms)]) == 0
    assert read_tags(path) == {"Rain", "Precipitation"}
    relabel(ws, {path: "thunder"})
    assert main(["tag", ws]) == 0
    assert read_tags(path) == {"Rain", "thunder"}  # ours replaced, the file's own kept
    from hover_audio.audio.file_tags import merged  # a file an older version tagged holds
    assert merged({"Rain", "rain"}, {"storm"}, drop={"rain"}) == {"Rain", "storm"}  # both


def test_tags_from_another_source_are_not_replaced(tmp_path):
    path = ffmpeg(tmp_path / "sfx" / "rain.flac")
    ws = workspace(tmp_path, {path: "rain"})
    ds = AudioDataset.load(ws)
    ds.add_tags([str(path)], ["loop"])
    ds.close()
    assert main(["tag", ws]) == 0 and main(["tag", ws, "--from", "tags"]) == 0
    assert read_tags(path) == {"loop", "rain"}  # the labels run's tag stays
    relabel(ws, {path: "storm"})
    assert main(["tag", ws]) == 0
    assert read_tags(path) == {"loop", "storm"}


def test_a_manifest_written_before_runs_recorded_their_tags_still_says_which(tmp_path):
    path = ffmpeg(tmp_path / "sfx" / "bark.mp3", "-metadata", "genre=Foley")
    ws = workspace(tmp_path, {path: "dog"})
    assert main(["tag", ws]) == 0
    manifest = manifests(ws)[0]
    record = json.loads(manifest.read_text())
    for name in ("ours", "source"):  # as the runs before this fix wrote them
        del record[name]
    manifest.write_text(json.dumps(record))
    relabel(ws, {path: "cat"})
    assert main(["tag", ws]) == 0
    assert read_tags(path) == {"Foley", "cat"}


# ------------------------------------------------------------------ fault 3
def test_a_file_whose_audio_changed_is_skipped_after_any_later_save(tmp_path, capsys):
    library = tmp_path / "sfx"
    changed, touched = ffmpeg(library / "changed.wav"), ffmpeg(library / "touched.flac")
    ws = workspace(tmp_path, {changed: "door", touched: "rain"}, vectors=True)
    ffmpeg(changed, freq=2000)  # someone replaced its audio
    later = time.time() + 5
    os.utime(touched, (later, later))  # touched only: the same audio
    relabel(ws, {touched: "rain"})  # the workspace saved again: vectors.npy rewritten
    vectors = os.path.join(ws, "vectors.npy")
    assert os.stat(vectors).st_mtime_ns > os.stat(changed).st_mtime_ns
    assert main(["tag", ws]) == 1
    err = capsys.readouterr().err
    assert (f"not tagged: {changed}: its audio changed since the workspace's vectors were "
            "made") in err and "--even-if-changed" in err
    assert read_tags(changed) == set() and read_tags(touched) == {"rain"}
    assert main(["tag", ws]) == 1  # (a file tagged since is no change: only tags differ)
    assert read_tags(touched) == {"rain"} and "touched" not in capsys.readouterr().err
    assert main(["tag", ws, "--even-if-changed"]) == 0
    assert read_tags(changed) == {"door"}


# ------------------------------------------------------------------ fault 4
def test_a_killed_runs_temporary_copies_are_removed_and_named(tmp_path, capsys):
    lab = tmp_path / "lib" / "lab1"
    path = ffmpeg(lab / "f 17 \xfc.wav")
    other = ffmpeg(lab / "other.wav")
    ws = workspace(tmp_path, {path: "door"})
    assert main(["tag", ws]) == 0
    manifest = manifests(ws)[0]
    record = json.loads(manifest.read_text())
    record["complete"] = False  # as a run killed while writing leaves it
    manifest.write_text(json.dumps(record))
    run = manifest.stem
    content = path.read_bytes()
    leftovers = [lab / f".{path.name}.hover-audio-{run}-k3nee2ll.wav",  # one this run names
                 lab / f".{path.name}.kxnee2ll.wav"]  # the form used before copies were named
    decoys = [lab / f".{path.name}.hover-audio-20990101T000000-000000000-k3nee2ll.wav",
              lab / f".{other.name}.kxnee2ll.wav", lab / ".notes.txt"]
    for copy in leftovers + decoys:
        copy.write_bytes(content[:1000])  # (truncated, as a killed copy can be)
    capsys.readouterr()
    assert main(["tag", ws, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove 2 temporary copy(ies)" in out and all(c.exists() for c in leftovers)
    relabel(ws, {path: "cat"})
    assert main(["tag", ws]) == 0
    out = capsys.readouterr().out
    assert "removing 2 temporary copy(ies) an interrupted `tag` or `untag` run left" in out
    assert all(str(copy) in out for copy in leftovers)
    assert not any(copy.exists() for copy in leftovers) and all(c.exists() for c in decoys)
    assert read_tags(path) == {"cat"}
    leftover = lab / f".{path.name}.hover-audio-{run}-zzzzzzzz.wav"  # a killed untag's
    leftover.write_bytes(content[:10])
    assert main(["untag", str(manifests(ws)[-1])]) == 0
    assert str(leftover) in capsys.readouterr().out and not leftover.exists()


def _kill_while_a_copy_is_there(ws: str, library) -> bool:
    """Run ``tag`` on ``ws`` and kill it while a temporary copy of it is in ``library``:
    stopped (SIGSTOP) as soon as one shows, killed if one is still there, else let go on.
    False when the run ended before one was caught."""
    run = subprocess.Popen([sys.executable, "-m", "hover_audio.app.cli", "tag", ws],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while run.poll() is None and time.monotonic() < deadline:
            if any(entry.name.startswith(".") for entry in os.scandir(library)):
                os.kill(run.pid, signal.SIGSTOP)
                if any(library.glob(".*")):  # (not renamed into place just before)
                    os.kill(run.pid, signal.SIGKILL)
                    return True
                os.kill(run.pid, signal.SIGCONT)
        return False
    finally:
        if run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)
        run.wait()


def test_a_run_killed_while_writing_leaves_copies_the_next_run_removes(tmp_path):
    rate, seconds = 48000, 40
    tone = np.tile(corpus.tone(440, 1.0, rate)[:, None], (seconds, 2))
    for attempt in range(5):  # a run may end before a copy is caught: a fresh library
        library = tmp_path / f"lib{attempt}"
        library.mkdir()
        paths = []
        for i in range(12):
            paths.append(library / f"take {i}.wav")
            soundfile.write(paths[-1], tone, rate, subtype="PCM_16")
        sound = decode(paths[0]).samples
        ws = workspace(tmp_path, {path: "wind" for path in paths}, name=f"ws{attempt}")
        if _kill_while_a_copy_is_there(ws, library):
            break
    else:
        raise AssertionError("5 runs of `tag` ended before a temporary copy could be caught")
    for path in paths:  # every file is as it was or tagged, never damaged
        assert np.array_equal(decode(path).samples, sound) and read_tags(path) <= {"wind"}
    done = subprocess.run([sys.executable, "-m", "hover_audio.app.cli", "tag", ws],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "an interrupted `tag` or `untag` run left behind" in done.stdout
    assert not list(library.glob(".*")) and all(read_tags(p) == {"wind"} for p in paths)


# ------------------------------------------------------------------ fault 5
def test_a_file_is_tagged_by_its_content_and_a_corrupt_id3_tag_is_skipped(tmp_path, capsys):
    library = tmp_path / "sfx"
    fake = ffmpeg(library / "fake.mp3", "-c:a", "libvorbis", "-f", "ogg")
    good = ffmpeg(library / "good.mp3", "-metadata", "title=Hello", "-metadata",
                  "comment=a comment", "-metadata", "artist=Someone")
    corrupt = library / "corrupt.mp3"
    data = bytearray(good.read_bytes())
    at = data.index(b"TXXX")
    data[at + 4:at + 8] = bytes([0, 0, 0, 0x30])  # its size now swallows the next frames
    corrupt.write_bytes(bytes(data))
    wav = ffmpeg(library / "flac named.wav", "-f", "flac")
    originals = {path: path.read_bytes() for path in (fake, corrupt, wav)}
    ws = workspace(tmp_path, {fake: "rain", corrupt: "rain", good: "rain", wav: "rain"})
    assert main(["tag", ws]) == 1
    err = capsys.readouterr().err
    assert (f"not tagged: {fake}: its content is Ogg, not what its suffix .mp3 says" in err
            and "its suffix should be .ogg" in err)
    assert f"not tagged: {corrupt}: corrupt ID3 tag block" in err
    assert f"not tagged: {wav}: its content is FLAC" in err
    assert "3 file(s) were not tagged" in err
    assert all(path.read_bytes() == data for path, data in originals.items())
    assert soundfile.info(str(fake)).format == "OGG"  # still audio
    assert read_tags(good) == {"rain"}  # a sound ID3 tag (ffmpeg's) is not taken for corrupt
    assert mutagen.File(str(good))["TXXX:comment"].text == ["a comment"]


# -------------------------------------------------------------------- minor
def test_a_wavs_genre_is_read_and_dry_runs_tell_same_named_files_apart(tmp_path, capsys):
    first = ffmpeg(tmp_path / "lib" / "lab1" / "Track 01.wav", "-metadata", "genre=Foley")
    second = ffmpeg(tmp_path / "lib" / "lab2" / "Track 01.wav")
    assert read_tags(first) == {"Foley"}
    assert AudioDataset.from_folder(tmp_path / "lib").tags_of(str(first)) == {"Foley"}
    ws = workspace(tmp_path, {first: "door", second: "rain"})
    assert main(["tag", ws, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"files under {tmp_path / 'lib'}" in out
    assert os.path.join("lab1", "Track 01.wav") + "  Foley -> Foley, door" in out
    assert os.path.join("lab2", "Track 01.wav") + "  - -> rain" in out


def test_one_tag_run_of_a_workspace_at_a_time(tmp_path, capsys):
    from hover_audio.audio.tag_history import one_run

    path = ffmpeg(tmp_path / "a.wav")
    ws = workspace(tmp_path, {path: "door"})
    with one_run(os.path.join(ws, "tag-manifests")):
        assert main(["tag", ws]) == 1
    assert "another `tag` or `untag` run of the workspace" in capsys.readouterr().err
    assert read_tags(path) == set()
    assert main(["tag", ws]) == 0 and read_tags(path) == {"door"}


def test_sound_id3_tags_of_every_version_are_not_taken_for_corrupt():
    from hover_audio.audio.tag_containers import id3_problem

    def tag(major, frames, flags=0, size=None):
        body = frames + bytes(16)  # padding
        size = len(body) if size is None else size
        safe = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
        return b"ID3" + bytes([major, 0, flags]) + safe + body

    text = b"\x00Hello"
    v22 = b"TT2" + len(text).to_bytes(3, "big") + text
    v23 = b"TIT2" + len(text).to_bytes(4, "big") + b"\0\0" + text
    big = b"\x00" + b"x" * 255  # 256 bytes: read as a syncsafe size, 00 00 01 00 is 128
    itunes = b"TIT2" + len(big).to_bytes(4, "big") + b"\0\0" + big  # plain size in 2.4
    unsynced = b"TIT2" + (3).to_bytes(4, "big") + b"\0\0" + b"\x00\xff\x00\xe0"  # 2.3 unsync
    for good in (tag(2, v22), tag(3, v23), tag(4, itunes), tag(3, unsynced, flags=0x80)):
        assert id3_problem(good) is None, good
    assert "runs past" in id3_problem(tag(3, v23[:7] + b"\x40" + v23[8:]))
    assert "not a frame" in id3_problem(tag(3, v23 + b"junk" + bytes(6)))
    assert "past the end of the file" in id3_problem(tag(3, v23, size=500))


def test_an_mp3s_id3v1_tag_is_kept_as_it_was(tmp_path):
    """Another tool's ID3v1 block at the end of an MP3 is left byte for byte: it was
    written again from the ID3v2 frames (its title and comment lost), and its fields
    were copied into the ID3v2 frames."""
    from hover_audio.audio.file_tags import restore, write_tags

    path = ffmpeg(tmp_path / "bird.mp3", "-id3v2_version", "3", "-metadata", "title=v2 title")
    v1 = (b"TAG" + b"v1 title".ljust(30, b"\0") + b"artist".ljust(30, b"\0")
          + b"album".ljust(30, b"\0") + b"1999" + b"a comment".ljust(30, b"\0") + bytes([12]))
    assert len(v1) == 128
    path.write_bytes(path.read_bytes() + v1)
    samples, state = decode(path).samples, snapshot(path)
    write_tags(path, ["bird"])
    assert "bird" in read_tags(path) and path.read_bytes()[-128:] == v1
    assert str(mutagen.File(str(path)).tags["TIT2"]) == "v2 title"
    assert np.array_equal(decode(path).samples, samples)
    restore(path, state)
    assert path.read_bytes()[-128:] == v1 and snapshot(path) == state
