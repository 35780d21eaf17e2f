"""``hover-audio import`` faults: missing audio, row counts, exit codes, Label Studio's URLs.

Each test writes the files another tool writes to ``tmp_path``, a workspace beside them,
and runs the real command (``main``, or the installed module in a subprocess): an
Audacity import with a wrong ``--audio-root`` adds no rows and fails, naming each
missing file once; every reader treats a missing file the same way; the summary counts
rows, not columns; Label Studio's ``/data/local-files/?d=`` and ``/data/upload/`` audio
is found on disk.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from . import audio_corpus as corpus
from hover_audio import AudioDataset
from hover_audio.app.cli import main
from hover_audio.dataset.formats import read_file

REPO = Path(__file__).resolve().parents[1]
RAVEN = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin Path\tAnnotation\n"


def workspace(folder: Path, keys) -> Path:
    """A workspace of ``keys`` (unlabeled) at ``folder``."""
    dataset = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(key) for key in keys]}))
    dataset.save(folder)
    dataset.close()
    return folder


def keys_of(folder: Path) -> list[str]:
    dataset = AudioDataset.load(folder, attach=False)
    return sorted(dataset.keys)


def labels_of(folder: Path) -> dict:
    dataset = AudioDataset.load(folder, attach=False)
    return dict(zip(dataset.keys, dataset.column("label")))


def run_cli(*args) -> subprocess.CompletedProcess:
    """The command as a person runs it: a new process, its exit code and output."""
    return subprocess.run([sys.executable, "-m", "hover_audio.app.cli", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))


@pytest.fixture()
def audio(tmp_path):
    """Two mono files (3 s) in ``tmp_path/audio``."""
    folder = tmp_path / "audio"
    corpus.write_tone_wav(folder / "a.wav", 3.0)
    corpus.write_tone_wav(folder / "b.wav", 3.0)
    return folder


def tracks(folder: Path, lines: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in lines.items():
        (folder / f"{name}.txt").write_text(text)
    return folder


# -- 1: an Audacity import with a wrong --audio-root ---------------------------------------

def test_audacity_import_with_a_wrong_audio_root_adds_nothing_and_fails(tmp_path, audio):
    ws = workspace(tmp_path / "ws", [audio / "a.wav", audio / "b.wav"])
    before = keys_of(ws)
    folder = tracks(tmp_path / "tracks", {"a.wav": "0.5\t1.0\tdog\n1.0\t1.5\tcat\n",
                                          "b.wav": "0.5\t1.0\towl\n"})
    wrong = tmp_path / "wrong"
    done = run_cli("import", folder, "--format", "audacity", "--audio-root", wrong,
                   "--workspace", ws)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name, rows in (("a.wav", 2), ("b.wav", 1)):
        said = [line for line in lines if str(wrong / name) in line]
        assert len(said) == 1, lines  # once each: not "no audio file" and "missing" too
        assert "no such file" in said[0] and f"{rows} row(s) not imported" in said[0]
        assert str(folder / f"{name}.txt") in said[0]  # the track it came from
    assert "0 new, 0 updated" in done.stdout and "2 problem(s) in the file" in done.stdout
    assert "no record of" in done.stderr
    assert keys_of(ws) == before  # no row for audio that is not there


def test_audacity_import_with_some_audio_missing_imports_the_rest_and_says_incomplete(
        tmp_path, audio, capsys):
    ws = workspace(tmp_path / "ws", [audio / "a.wav"])
    folder = tracks(tmp_path / "tracks", {"a.wav": "0.5\t1.0\tdog\n",
                                          "gone.wav": "0.5\t1.0\towl\n"})
    assert main(["import", str(folder), "--format", "audacity", "--audio-root", str(audio),
                 "--workspace", str(ws)]) == 1
    captured = capsys.readouterr()
    said = [line for line in captured.out.splitlines() if "gone.wav" in line]
    assert len(said) == 1 and "1 row(s) not imported" in said[0], captured.out
    assert "1 new" in captured.out and "is incomplete" in captured.err
    assert keys_of(ws) == sorted([str(audio / "a.wav"), f"{audio / 'a.wav'}#t=0.5,1"])


def test_a_row_the_workspace_has_takes_its_label_though_its_file_is_gone(tmp_path, audio,
                                                                          capsys):
    """Only rows are not created for audio that is not there: a workspace row whose file
    went away (as `serve` keeps them) still takes its label; a note says the file is
    missing, and the import is complete."""
    gone = tmp_path / "elsewhere" / "gone.wav"
    corpus.write_tone_wav(gone, 2.0)
    ws = workspace(tmp_path / "ws", [gone])
    gone.unlink()
    folder = tracks(tmp_path / "tracks", {"gone.wav": "0\t0\tdog\n"})
    assert main(["import", str(folder), "--format", "audacity", "--audio-root",
                 str(gone.parent), "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "note:" in out and "1 row(s) are kept" in out and "1 updated" in out
    assert labels_of(ws) == {str(gone): "dog"}


MISSING_BY_FORMAT = {
    "prodigy": ("t.jsonl", lambda a, gone: "\n".join(json.dumps(task) for task in [
        {"audio": str(a), "label": "dog"}, {"audio": str(gone), "label": "owl"}]) + "\n"),
    "label-studio": ("t.json", lambda a, gone: json.dumps([
        {"data": {"audio": str(path)}, "annotations": [{"result": [
            {"type": "choices", "from_name": "label", "to_name": "audio",
             "value": {"choices": [label]}}]}]} for path, label in ((a, "dog"), (gone, "owl"))])),
    "encord": ("t.json", lambda a, gone: json.dumps([
        {"file": str(path), "classifications": [{"name": "label", "answer": label}]}
        for path, label in ((a, "dog"), (gone, "owl"))])),
    "raven": ("t.txt", lambda a, gone: RAVEN + f"1\tSpectrogram 1\t1\t0.5\t1\t{a}\tdog\n"
              f"2\tSpectrogram 1\t1\t0.5\t1\t{gone}\towl\n"),
}


@pytest.mark.parametrize("format", [*MISSING_BY_FORMAT, "audacity"])
def test_every_reader_treats_missing_audio_alike(tmp_path, audio, format, capsys):
    """A file naming audio that is not there: named once, its rows not added, exit 1, in
    every format alike (before, other readers added the rows and exited 0)."""
    a, gone = audio / "a.wav", audio / "gone.wav"
    ws = workspace(tmp_path / "ws", [a])
    if format == "audacity":
        path = tracks(tmp_path / "tracks", {"a.wav": "0.5\t1\tdog\n", "gone.wav": "0.5\t1\towl\n"})
    else:
        name, text = MISSING_BY_FORMAT[format]
        path = tmp_path / name
        path.write_text(text(a, gone))
    assert main(["import", str(path), "--format", format, "--audio-root", str(audio),
                 "--workspace", str(ws)]) == 1
    captured = capsys.readouterr()
    said = [line for line in captured.out.splitlines() if "gone.wav" in line]
    assert len(said) == 1 and "missing audio, no such file" in said[0], captured.out
    assert "1 row(s) not imported" in said[0]
    assert "1 problem(s) in the file" in captured.out and "is incomplete" in captured.err
    assert not any("gone.wav" in key for key in keys_of(ws))
    assert "dog" in labels_of(ws).values()


def test_a_missing_file_is_one_problem_for_raven_and_audacity(tmp_path, audio):
    """read_file (AudioDataset.from_file): one problem per missing file, its rows kept."""
    head = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin File\tAnnotation\n"
    table = tmp_path / "birdnet.txt"
    table.write_text(head + "1\tSpectrogram 1\t1\t1\t2\tgone.wav\tjay\n"
                     "2\tSpectrogram 1\t1\t2\t3\tgone.wav\tjay\n")
    read, problems = read_file(table)
    assert len(read) == 2 and len(problems) == 1, problems
    assert "gone.wav" in problems[0] and "Begin File 'gone.wav' is not in the table's folder" \
        in problems[0] and "2 row(s) are kept" in problems[0]
    from hover_audio.dataset.formats import Note

    assert isinstance(problems[0], Note)  # (its rows are kept: nothing left out)
    folder = tracks(tmp_path / "tracks", {"a.wav": "0.5\t1\tdog\n1\t2\tcat\n"})
    read, problems = read_file(folder, format="audacity", audio_root=tmp_path / "wrong")
    assert len(read) == 2 and len(problems) == 1, problems
    assert str(tmp_path / "wrong" / "a.wav") in problems[0]


# -- 2: the summary counts rows -----------------------------------------------------------

def test_raven_import_counts_rows_updated_not_columns(tmp_path, audio, capsys):
    a = audio / "a.wav"
    ws = workspace(tmp_path / "ws", [f"{a}#t=0.5,1", f"{a}#t=1,2"])
    table = tmp_path / "r.txt"
    table.write_text("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin Path\t"
                     "Annotation\tSubset\ttags\tTranscript\n"
                     f"1\tSpectrogram 1\t1\t0.5\t1\t{a}\tdog\ttrain\tloud\thi\n"
                     f"2\tSpectrogram 1\t1\t1\t2\t{a}\tcat\ttrain\t\t\n")
    assert main(["import", str(table), "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "0 new, 2 updated, 0 conflicting" in out, out  # not 6: label, SUBSET, tags, text
    # a row in conflict on two columns is one conflicting row; a label only offered in a
    # conflict (ours kept) is not called new
    table.write_text("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin Path\t"
                     "Annotation\tTranscript\n"
                     f"1\tSpectrogram 1\t1\t0.5\t1\t{a}\twolf\tho\n")
    assert main(["import", str(table), "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "0 new, 0 updated, 1 conflicting" in out, out
    assert "new label(s)" not in out and "nothing changed" in out
    assert out.count("  conflict ") == 2  # each value in conflict is still shown


# -- 3: Label Studio's local files and uploads ---------------------------------------------

def label_studio(path: Path, audio_values) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([
        {"data": {"audio": value}, "annotations": [{"result": [
            {"type": "choices", "from_name": "label", "to_name": "audio",
             "value": {"choices": [f"L{at}"]}}]}]} for at, value in enumerate(audio_values)]))
    return path


def test_label_studio_local_files_urls_resolve_under_the_document_root(tmp_path, capsys):
    root = tmp_path / "documents"
    take = corpus.write_tone_wav(root / "field recordings" / "take #1.wav", 2.0)
    other = corpus.write_tone_wav(root / "b.wav", 2.0)
    ws = workspace(tmp_path / "ws", [take, other])
    export = label_studio(tmp_path / "export" / "project.json", [
        "/data/local-files/?d=field%20recordings/take%20%231.wav",  # URL-encoded
        "http://localhost:8080/data/local-files/?d=b.wav"])  # with Label Studio's host
    assert main(["import", str(export), "--audio-root", str(root), "--workspace",
                 str(ws)]) == 0
    out = capsys.readouterr().out
    assert "0 new, 2 updated" in out and "problem:" not in out, out
    assert labels_of(ws) == {str(take): "L0", str(other): "L1"}


def test_label_studio_local_files_default_to_the_exports_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", raising=False)
    monkeypatch.delenv("LOCAL_FILES_DOCUMENT_ROOT", raising=False)
    take = corpus.write_tone_wav(tmp_path / "clips" / "a.wav", 1.0)
    export = label_studio(tmp_path / "export.json", ["/data/local-files/?d=clips/a.wav",
                                                     "/data/local-files/?d=../etc/x.wav",
                                                     "/data/local-files/?d=clips/gone.wav"])
    table, problems = read_file(export)
    assert list(table["audio"]) == [str(take), "/data/local-files/?d=clips/gone.wav"]
    assert any("task 1" in p and "climbs out of the root" in p for p in problems), problems
    missing = [p for p in problems if "gone.wav" in p]
    assert len(missing) == 1 and "Label Studio's local file 'clips/gone.wav'" in missing[0]
    # Label Studio's own setting names the root when no audio root is given
    monkeypatch.setenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", str(tmp_path / "clips"))
    table, _ = read_file(label_studio(tmp_path / "e2.json", ["/data/local-files/?d=a.wav"]))
    assert list(table["audio"]) == [str(take)]


def test_label_studio_uploads_are_found_in_the_media_folder_or_the_originals(tmp_path,
                                                                              capsys):
    media = tmp_path / "media"
    stored = corpus.write_tone_wav(media / "upload" / "3" / "0a1b2c3d-take.wav", 1.0)
    export = label_studio(tmp_path / "export.json", ["/data/upload/3/0a1b2c3d-take.wav"])
    table, problems = read_file(export, audio_root=media)
    assert list(table["audio"]) == [str(stored)] and problems == []
    originals = tmp_path / "originals"
    original = corpus.write_tone_wav(originals / "take.wav", 1.0)  # the name before upload
    table, problems = read_file(export, audio_root=originals)
    assert list(table["audio"]) == [str(original)] and problems == []
    ws = workspace(tmp_path / "ws", [original])
    assert main(["import", str(export), "--workspace", str(ws)]) == 1  # not next to it
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if "0a1b2c3d-take.wav" in line]
    assert len(said) == 1 and "uploaded to Label Studio" in said[0], out
    assert keys_of(ws) == [str(original)]


# -- exit codes: notes leave nothing out -----------------------------------------------------

def test_notes_leave_the_import_complete(tmp_path, audio, capsys):
    """Point labels read as ranges, and Label Studio tasks skipped by the annotator, are
    said but leave nothing out: exit 0."""
    ws = workspace(tmp_path / "ws", [audio / "a.wav"])
    folder = tracks(tmp_path / "tracks", {"a.wav": "1.0\t1.0\tclick\n"})
    assert main(["import", str(folder), "--format", "audacity", "--audio-root", str(audio),
                 "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "note:" in out and "0 problem(s) in the file, 1 note(s)" in out
    export = tmp_path / "ls.json"
    export.write_text(json.dumps([
        {"data": {"audio": str(audio / "a.wav")}, "annotations": [{"result": [
            {"type": "choices", "from_name": "label", "to_name": "audio",
             "value": {"choices": ["dog"]}}]}]},
        {"data": {"audio": str(audio / "b.wav")},
         "annotations": [{"was_cancelled": True, "result": []}]}]))
    assert main(["import", str(export), "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "every annotation was cancelled" in out and "1 updated" in out


def test_a_folder_without_label_tracks_is_an_error_not_an_empty_import(tmp_path, audio,
                                                                        capsys):
    """An audio folder given where the tracks belong exited 0 ("0 new, nothing changed")."""
    ws = workspace(tmp_path / "ws", [audio / "a.wav"])
    assert main(["import", str(audio), "--format", "audacity", "--workspace", str(ws)]) == 1
    assert "no label tracks" in capsys.readouterr().err


def test_a_relative_path_that_names_no_file_says_where_it_was_looked_for(tmp_path, audio,
                                                                          capsys):
    ws = workspace(tmp_path / "ws", [audio / "a.wav"])
    theirs = tmp_path / "theirs.jsonl"
    theirs.write_text(json.dumps({"audio": "audio/a.wav", "label": "dog"}) + "\n"
                      + json.dumps({"audio": "audio/gone.wav", "label": "owl"}) + "\n")
    assert main(["import", str(theirs), "--workspace", str(ws)]) == 1
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if "gone.wav" in line]
    assert len(said) == 1 and f"a relative path, looked for from {tmp_path}" in said[0], out
    assert labels_of(ws) == {str(audio / "a.wav"): "dog"}
