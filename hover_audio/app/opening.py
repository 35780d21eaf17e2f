"""Opening what a command names: a workspace, an audio folder or a table file."""
from __future__ import annotations

from pathlib import Path


def open_dataset(path: str):
    """A folder (labels from subfolders), a table file, or a workspace (read only)."""
    from ..dataset.audio_dataset import AudioDataset
    from ..dataset.store import is_workspace

    target = Path(path)
    if target.is_dir():
        if is_workspace(target):
            return AudioDataset.load(target, attach=False)
        return AudioDataset.from_folder(target)
    return AudioDataset.from_file(target)


def workspace_for(path) -> "Path":
    """The default workspace of a folder or table: the same path finds it again."""
    import hashlib

    from ..common.paths import default_cache_dir

    source = Path(path).absolute()
    tag = hashlib.sha1(str(source).encode()).hexdigest()[:8]
    return default_cache_dir() / "workspaces" / f"{source.stem or 'root'}-{tag}"


def open_attached(path: str, workspace: str | None):
    """Open a workspace, or a folder/table attached to a (new or earlier) workspace."""
    from ..dataset.audio_dataset import AudioDataset
    from ..dataset.store import is_workspace

    source = Path(path)
    if source.is_dir() and is_workspace(source):
        return AudioDataset.load(source)
    target = Path(workspace) if workspace else workspace_for(source)
    if is_workspace(target):
        print(f"hover-audio: reopening workspace {target}")
        return AudioDataset.load(target)
    dataset = open_dataset(path)
    dataset.save(target)
    print(f"hover-audio: workspace {target}")
    return dataset
