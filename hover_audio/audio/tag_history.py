"""What earlier ``tag`` runs of a workspace did, from their manifests; one run at a time.

Every ``tag`` run saves a manifest, ``<workspace>/tag-manifests/<run>.json``: ``files``
(each file's fields before the run, a :func:`~hover_audio.audio.file_tags.snapshot`),
``tags`` (the tags each file was to hold after it), ``written`` (the fields each file
read as once written), ``complete`` (false until the run ended), and, since runs record
them, ``source`` (``labels``, ``tags`` or ``suggested``) and ``ours`` (per file, the tags
that run wrote, as opposed to tags the file had from elsewhere). :func:`tags_written_before`
says which of a file's tags hover-audio wrote, so a new run of the same source replaces
them (a corrected label leaves the file) and keeps the rest. :func:`one_run` keeps a
second ``tag`` or ``untag`` of the workspace from running meanwhile, which is what makes
a temporary copy named after one of the workspace's runs a leftover of a killed one
(:func:`leftover_copies`).
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

from ..common.files import LockBusy, hold_lock
from .file_tags import same_fields, tags_in
from .tag_copies import leftovers

FOLDER = "tag-manifests"
LOCK = ".lock"


class TaggingBusy(OSError):
    """Another ``tag`` or ``untag`` run of the same workspace is going on."""


def read_manifests(folder: str | os.PathLike) -> list[tuple[str, dict]]:
    """``(run, manifest)`` of the manifests in ``folder``, oldest first (by their names,
    which are the runs' start times); files that are not manifests are left out. Each
    manifest gets an ``_index`` (in memory only): ``{file as :func:`normal`: as listed}``."""
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and isinstance(manifest.get("files"), dict):
            manifest["_index"] = {normal(name): name for name in manifest["files"]}
            found.append((path.stem, manifest))
    return found


def normal(path: str) -> str:
    """A file's path as manifests are compared by (absolute, without ``.``/``..``)."""
    return os.path.normpath(os.path.abspath(path))


def tags_written_before(runs: list[tuple[str, dict]], path: str, state: dict,
                        source: str) -> set[str]:
    """The tags of the file ``path`` (now ``state``) that earlier runs of ``source`` wrote.

    The newest run of that source that listed the file and whose change is still in
    it says (a run whose change was undone, the file being as it was before that run,
    is passed over); a manifest from before runs recorded their own tags counts the
    tags its run added, with those of the runs before it. Only tags the file still
    holds are returned.
    """
    now, added, key = tags_in(state), set(), normal(path)
    for _, manifest in reversed(runs):
        if manifest.get("source", source) != source:
            continue
        listed = manifest["_index"].get(key)
        if listed is None:
            continue
        before, written = manifest["files"][listed], (manifest.get("written") or {}).get(listed)
        if not isinstance(before, dict) or not isinstance(written or {}, dict):
            continue
        if same_fields(state, before) and not (written and same_fields(state, written)):
            continue  # undone (or never written)
        ours = (manifest.get("ours") or {}).get(listed)
        if ours is not None:
            return (added | set(ours)) & now
        try:
            added |= set((manifest.get("tags") or {}).get(listed) or ()) - tags_in(before)
        except (KeyError, TypeError):
            continue
    return added & now


@contextmanager
def one_run(folder: str | os.PathLike):
    """Hold the tagging lock of a workspace's manifests ``folder`` (its ``.lock``) for a
    ``tag`` or ``untag`` run; :class:`TaggingBusy` when another run holds it. The system
    releases it when the process ends, however it ends. Yields whether the lock is held
    (not where the folder cannot be written, nor on Windows)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = hold_lock(folder / LOCK)
    except LockBusy as busy:
        raise TaggingBusy(f"another `tag` or `untag` run of the workspace whose manifests "
                          f"are in {folder} is going on (pid {busy.owner}); wait for it to "
                          "end") from None
    except OSError:  # a folder that cannot be written
        handle = None
    if handle is None:  # (nor on Windows: no advisory lock)
        yield False
        return
    with handle:
        yield True


def leftover_copies(runs: list[tuple[str, dict]], files=()) -> list[Path]:
    """Temporary copies killed runs of the workspace left beside the files its manifests
    list (or ``files``), with the workspace's tagging lock held (:func:`one_run`)."""
    listed = {name for _, manifest in runs for name in manifest["files"]} | set(files)
    unfinished = {name for _, manifest in runs if not manifest.get("complete")
                  for name in manifest["files"]}
    return leftovers(listed, [run for run, _ in runs], unfinished)
