"""Labels where the user can find them: default workspaces in the user's data folder,
the same from any directory, listed by ``hover-audio workspaces``, old ones adopted."""
from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from hover_audio import AudioDataset
from hover_audio.app.cli import main
from hover_audio.app.opening import (demo_workspace, legacy_workspace_for, open_attached,
                                     workspace_for)
from hover_audio.common.paths import data_dir
from hover_audio.dataset.demo import DATA_DIR, demo_table


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOVER_AUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOVER_AUDIO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "home"


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "library"
    for label, rows in (("one", demo_table()[:3]), ("two", demo_table()[3:6])):
        (folder / label).mkdir(parents=True)
        for path in rows["audio"]:
            shutil.copy(path, folder / label)
    return folder


def test_the_default_workspace_does_not_depend_on_the_current_folder(home, library, tmp_path,
                                                                     monkeypatch, capsys):
    first_cwd, second_cwd = tmp_path / "a", tmp_path / "b"
    first_cwd.mkdir(), second_cwd.mkdir()
    monkeypatch.chdir(first_cwd)
    ds = open_attached(str(library), None)
    assert ds.workspace == workspace_for(library)
    assert str(ds.workspace).startswith(str(home))
    assert "labels are saved there" in capsys.readouterr().out
    key = ds.keys[0]
    ds.set_labels(key, "kept")
    ds.close()
    monkeypatch.chdir(second_cwd)  # another directory, a relative path to the same folder
    again = open_attached(os.path.relpath(library, second_cwd), None)
    assert again.workspace == workspace_for(library)
    assert dict(zip(again.keys, again.column("label")))[key] == "kept"
    assert "reopening workspace" in capsys.readouterr().out
    again.close()
    assert not (first_cwd / "custom_cache").exists() and not (second_cwd / "custom_cache").exists()


def test_a_workspace_left_under_the_cache_is_moved_not_abandoned(home, library, capsys):
    old = legacy_workspace_for(library)
    ds = AudioDataset.from_folder(library)
    ds.save(old)
    ds.set_labels(ds.keys[1], "from the old place")
    ds.close()
    moved = open_attached(str(library), None)
    out = capsys.readouterr().out
    assert f"moved the workspace of {library}" in out and not old.exists()
    assert moved.workspace == workspace_for(library)
    assert dict(zip(moved.keys, moved.column("label")))[ds.keys[1]] == "from the old place"
    moved.close()


def test_cli_lists_workspaces_with_their_data_and_counts(home, library, capsys):
    open_attached(str(library), None).close()
    capsys.readouterr()
    assert main(["workspaces"]) == 0
    out = capsys.readouterr().out
    assert str(workspace_for(library)) in out and f"data: {library}" in out
    assert "6 clips, 6 labeled (raw 0, train 6, dev 0, test 0)" in out


def test_demo_workspace_is_in_the_data_folder(home, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--no-serve"]) == 0
    assert f"labels are saved in {demo_workspace()}" in capsys.readouterr().out
    assert main(["workspaces"]) == 0
    assert "data: " + str(DATA_DIR) in capsys.readouterr().out
    assert demo_workspace().parent.parent == data_dir() and not (tmp_path / "custom_cache").exists()


def test_data_dir_follows_the_platform_conventions(monkeypatch, tmp_path):
    monkeypatch.delenv("HOVER_AUDIO_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "hover-audio"
    monkeypatch.setenv("HOVER_AUDIO_HOME", "~/labels")
    assert data_dir() == pd.io.common.Path.home() / "labels"
