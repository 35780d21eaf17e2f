"""Opening what a command names: a workspace, an audio folder or a table file."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from ..common.files import atomic_write
from ..common.paths import data_dir, default_cache_dir


def is_workspace(folder) -> bool:
    """True when ``folder`` holds a workspace (without importing the dataset layer)."""
    from ..dataset.store import is_workspace as check

    return check(folder)


def parse_segment(text: str | None):
    """``--segment``: None, a window in seconds (``"5"``), or ``"nonsilent"``.

    Returns what ``AudioDataset.from_folder(segment=...)`` takes.
    """
    if text is None:
        return None
    if text.strip().lower() == "nonsilent":
        return {"mode": "nonsilent"}
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"--segment takes a window in seconds (> 0) or 'nonsilent', "
                         f"got {text!r}")
    return seconds


def open_dataset(path: str, segment=None, channels: str | None = None):
    """A folder (labels from subfolders), a table file, or a workspace (read only).

    ``segment`` (see :func:`parse_segment`) cuts a folder's or a table's files into
    ``#t=`` range rows, ``channels="split"`` lists each channel of a multichannel
    file as a row; a workspace's rows are what they are, and it refuses both.
    """
    from ..dataset.audio_dataset import AudioDataset

    target = Path(path)
    if target.is_dir() and is_workspace(target):
        refuse_cutting(path, segment, channels)
        return AudioDataset.load(target, attach=False)
    if target.is_dir():
        dataset = AudioDataset.from_folder(target, segment=segment, channels=channels)
        if not len(dataset):
            raise ValueError(f"no audio files under {target} (nor a workspace there)")
        return dataset
    if not target.exists():
        raise FileNotFoundError(f"no such folder or file: {path}")
    from ..audio.formats import AUDIO_SUFFIXES

    if target.suffix.lower() in AUDIO_SUFFIXES:
        raise ValueError(f"{path} is an audio file: give its folder, a table of clips "
                         "(.csv/.json/.parquet or another tool's file), or a workspace")
    if segment is None and channels is None:
        return AudioDataset.from_file(target)
    from ..dataset.folder import channel_rows, segment_rows
    from ..dataset.formats import read_file

    table = read_file(target, warn=True)[0]
    table = channel_rows(table, channels) if channels else table
    return AudioDataset.from_pandas(segment_rows(table, segment) if segment else table)


def refuse_cutting(path, segment, channels) -> None:
    """ValueError when ``--segment``/``--channels`` are asked of a workspace."""
    if segment is not None or channels is not None:
        raise ValueError(f"{path} is a workspace: its rows are what they are; --segment "
                         "and --channels apply to an audio folder or a table")


SOURCE_FILE = "source.json"  # in a default workspace: the data it was made from


def workspace_for(path, segment=None, channels: str | None = None) -> Path:
    """The default workspace of a folder or table, in the user's data folder.

    Named by the data's absolute path (and how it is cut, with ``segment``), so the
    same command finds it again from any current directory (see
    :func:`~hover_audio.common.paths.data_dir`).
    """
    name = _workspace_name(path)
    if segment is not None:
        cut = "nonsilent" if isinstance(segment, dict) else f"{float(segment):g}s"
        name = f"{name}-segment-{cut}"
    if channels is not None:
        name = f"{name}-channels-{channels}"
    return data_dir() / "workspaces" / name


def legacy_workspace_for(path) -> Path:
    """Where versions before 0.1 put the default workspace: under the cache folder."""
    return default_cache_dir() / "workspaces" / _workspace_name(path)


def _workspace_name(path) -> str:
    source = Path(os.path.abspath(path))  # "../data" and "/x/data" are one folder
    tag = hashlib.sha1(str(source).encode()).hexdigest()[:8]
    return f"{source.stem or 'root'}-{tag}"


def open_attached(path: str, workspace: str | None, segment=None, channels: str | None = None):
    """Open a workspace, or a folder/table attached to a (new or earlier) workspace.

    Prints where the labels are saved. A default workspace left under the cache
    folder by an earlier version is moved to the data folder (and said so).
    ``segment`` cuts a folder's or table's files (:func:`parse_segment`); each way
    of cutting has its own default workspace.
    """
    from ..dataset.audio_dataset import AudioDataset

    source = Path(path)
    if source.is_dir() and is_workspace(source):
        refuse_cutting(path, segment, channels)
        print(f"hover-audio: labels are saved in {source.absolute()}")
        return AudioDataset.load(source)
    target = Path(workspace) if workspace else workspace_for(source, segment, channels)
    if not workspace and segment is None and channels is None:
        adopt_legacy(source, target)
    if is_workspace(target):
        print(f"hover-audio: reopening workspace {target} (labels are saved there)")
        dataset = AudioDataset.load(target)
        if source.is_dir():
            follow_folder(dataset, source, segment, channels)
        return dataset
    dataset = open_dataset(path, segment, channels)
    dataset.save(target)
    if source.is_dir():
        write_seen(target / SEEN_FILE, source, sorted({_location(key) for key in dataset.keys}))
    if not workspace:
        write_source(target, source)
    print(f"hover-audio: new workspace {target} (labels are saved there)")
    return dataset


def follow_folder(dataset, folder: Path, segment=None, channels: str | None = None) -> int:
    """Add the audio files that appeared under ``folder`` since ``dataset`` was made from it
    (one undoable operation, cut like the rest), and say which of its files are gone
    (their rows and labels are kept). Returns the number of rows added.

    A file is new when neither the dataset nor the workspace's record of the files the
    folder had (:data:`SEEN_FILE`, written at each look) has it: a file whose rows were
    deleted stays deleted.
    """
    from ..dataset.folder import folder_changes
    from ..dataset.schema import AUDIO

    record = None if dataset.workspace is None else Path(dataset.workspace) / SEEN_FILE
    seen = read_seen(record, folder)
    added, gone, found = folder_changes(folder, set(map(_location, dataset.keys)), segment,
                                        channels, seen)
    if len(added):
        dataset.merge(added)  # (their new labels join label_order: the rows bring them)
        print(f"hover-audio: {added[AUDIO].map(_location).nunique()} new file(s) under "
              f"{folder} added ({len(added)} row(s); undo takes them out again)")
    if gone:
        print(f"hover-audio: {len(gone)} file(s) of the workspace are no longer under "
              f"{folder}, e.g. {gone[0]} (their rows and labels are kept)")
    if record is not None:
        write_seen(record, folder, found)
    return len(added)


SEEN_FILE = "folder-files.json"  # in a folder's workspace: the files it had at the last look


def read_seen(record: Path | None, folder: Path) -> list[str]:
    """The files a workspace's record says ``folder`` had (none: no record, or another
    folder's)."""
    try:
        info = json.loads(record.read_text(encoding="utf-8"))
    except (AttributeError, OSError, ValueError):
        return []
    root = os.path.abspath(folder)
    if info.get("folder") != root:
        return []
    return [os.path.join(root, name) for name in info.get("files", [])]


def write_seen(record: Path, folder: Path, files) -> None:
    """Record the audio ``files`` under ``folder`` (relative to it), atomically."""
    root = os.path.abspath(folder)
    info = {"folder": root, "files": [os.path.relpath(path, root) for path in files]}
    atomic_write(record, lambda tmp: Path(tmp).write_text(json.dumps(info), encoding="utf-8"))


def _location(key: str) -> str:
    """The file of a key (from_folder's keys are plain paths: no parsing)."""
    from ..audio.sources import SourceError, parse_key

    try:
        return parse_key(key).location if "#" in key else key
    except SourceError:
        return key


def demo_workspace() -> Path:
    """The workspace of ``hover-audio demo``."""
    return data_dir() / "workspaces" / "demo"


def adopt_legacy(source, target: Path) -> None:
    """Move the workspace an earlier version kept under the cache folder to ``target``."""
    source = Path(source)
    old = legacy_workspace_for(source)
    if is_workspace(old) and not is_workspace(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(old), str(target))
        write_source(target, source)
        print(f"hover-audio: moved the workspace of {source} from {old} to {target}")


def write_source(target: Path, source) -> None:
    """Remember in a default workspace which data it was made from."""
    info = {"data": os.path.abspath(source)}
    atomic_write(target / SOURCE_FILE, lambda tmp: Path(tmp).write_text(json.dumps(info)))


def list_workspaces() -> list[dict]:
    """The default workspaces: folder, data path, clips, labeled clips, per subset counts."""
    from ..dataset.audio_dataset import AudioDataset

    found = []
    for folder in sorted((data_dir() / "workspaces").glob("*")):
        if not is_workspace(folder):
            continue
        try:
            data = json.loads((folder / SOURCE_FILE).read_text()).get("data")
        except (OSError, ValueError):
            data = None
        try:
            dataset = AudioDataset.load(folder, attach=False)
        except Exception as error:  # a damaged workspace is listed, not hidden
            found.append({"workspace": str(folder), "data": data, "error": str(error)})
            continue
        labels = dataset.column("label")
        found.append({"workspace": str(folder), "data": data, "clips": len(dataset),
                      "labeled": int((labels != "ABSTAIN").sum()),
                      "subsets": dataset.population().sum().to_dict()})
    return found
