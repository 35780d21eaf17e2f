"""``hover-audio tag`` and ``untag``: a workspace's labels or tags written into the files.

``tag`` collects each file's tags (its whole-file rows' labels or ``tags``, plus
synonyms), writes them with :mod:`hover_audio.audio.file_tags` (the file's other tags
kept; the tags an earlier run of the same source wrote replaced, see
:mod:`hover_audio.audio.tag_history`), and records every file's previous fields in a
manifest, so ``untag MANIFEST`` puts them back exactly (skipping, unless
``--even-if-changed``, files whose tags changed after the run). Rows that are parts of
a file (ranges, channels) never write into it: their tags go to a sidecar CSV. A file
that cannot be tagged (whose audio changed since the workspace's vectors were made,
too) is reported (file, reason) and skipped; the others are written; the run then
exits 1. One ``tag`` or ``untag`` of a workspace runs at a time; each first removes,
and names, the temporary copies a killed run of the workspace left behind.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from ..common.values import fold
from .cli_args import probability


def read_synonyms(path) -> dict[str, set[str]]:
    """``tag,synonym`` rows (a header row ``tag,synonym`` is allowed): tag -> synonyms, the
    tag case folded (a label "Rain" gets the synonyms of "rain")."""
    synonyms: dict[str, set[str]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().lower() == "tag":
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}, line {number}: expected tag,synonym")
            synonyms.setdefault(fold(row[0].strip()), set()).add(row[1].strip())
    return synonyms


def file_tags(dataset, source: str, synonyms: dict, threshold: float = 0.25
              ) -> tuple[dict, list, dict]:
    """``{file: tags}`` of whole-file rows, sidecar rows (key, file, start, end, tags), and
    ``{file: (key, position)}`` of a whole-file row of each file."""
    from ..audio.sources import local_path, parse_key
    from ..dataset.tag_suggestions import suggested_pairs
    from ..dataset.tagging import parse_tags

    table = dataset.to_pandas()
    files: dict[str, set] = {}
    sidecar, rows = [], {}
    for position, record in enumerate(table.to_dict("records")):
        if source == "labels":
            tags = set() if record["label"] == "ABSTAIN" else {record["label"]}
        elif source == "suggested":  # "tag:probability" pairs of suggest_tags
            tags = {tag for tag, p in suggested_pairs(record.get("suggested_tags"))
                    if float(p) >= threshold}
        else:
            tags = parse_tags(record.get("tags"))
        for tag in list(tags):
            tags |= synonyms.get(fold(tag), set())
        if not tags:
            continue
        ref = parse_key(record["audio"])
        if ref.start is not None or ref.end is not None or ref.channel is not None:
            sidecar.append((record["audio"], ref.location, ref.start, ref.end,
                            ";".join(sorted(tags))))
            continue
        path = local_path(ref.location)
        if path is not None:
            files.setdefault(str(path), set()).update(tags)
            rows.setdefault(str(path), (record["audio"], position))
    return files, sidecar, rows


def _save_manifest(path: Path, manifest: dict) -> None:
    """Write ``manifest`` to ``path`` atomically (a crash leaves the old one or the new)."""
    from ..common.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temp: Path(temp).write_text(json.dumps(manifest, indent=1),
                                                          encoding="utf-8"))


def cmd_tag(args: argparse.Namespace) -> int:
    """Write the tags, recording every file's fields in a manifest before it changes.

    The manifest is written (marked incomplete) before the first file changes, listing
    every file about to be written, and rewritten at the end with the files written
    and what they read as then; ``untag`` takes either. Returns 1 when any file was
    skipped or could not be tagged.
    """
    from ..audio.file_tags import TagError, snapshot, split_tags, write_tags
    from ..audio.tag_history import FOLDER, one_run, read_manifests, tags_written_before
    from ..dataset.audio_dataset import AudioDataset
    from ..dataset.tagging import changed_since_vectors

    dataset = AudioDataset.load(args.workspace, attach=False)
    synonyms = read_synonyms(args.synonyms) if args.synonyms else {}
    if args.source == "suggested":  # as the tag panel: no suggestion for an unreliable vector
        from ..model.clip_notes import unreliable_rows

        unreliable = unreliable_rows(dataset)
        dataset.suggest_tags(threshold=args.threshold, leave_out=unreliable)
        if unreliable:
            print(f"note: {len(unreliable)} clip(s) get no suggested tags: their vectors are "
                  f"unreliable (e.g. {next(iter(unreliable.values()))})")
    files, sidecar, keys = file_tags(dataset, args.source, synonyms, args.threshold)
    now = time.time_ns()  # one reading: runs sort by name in the order they ran
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now // 10**9)) + f"-{now % 10**9:09d}"
    folder = Path(args.workspace)
    failed, rows, plan, notes = [], [], [], {}
    with nullcontext(False) if args.dry_run else one_run(folder / FOLDER) as locked:
        runs = read_manifests(folder / FOLDER)
        if locked or args.dry_run:
            clear_leftovers(runs, files, dry_run=args.dry_run)
        changed, note = ({}, None) if args.even_if_changed else changed_since_vectors(
            dataset, {path: keys[path] for path in files}, progress=len(files) >= 500)
        if note:
            print(f"note: {note}")
        for path, tags in sorted(files.items()):  # first, what each file has and would get
            try:
                if path in changed:
                    raise TagError(f"{path}: {changed[path]} (its labels may not fit it any "
                                   "more); --even-if-changed tags it")
                state = snapshot(path)  # for the manifest, and the write's starting point
                drop = tags_written_before(runs, path, state, args.source)
                before, after = write_tags(path, tags, dry_run=True, before=state, drop=drop)
            except TagError as error:
                failed.append(str(error))
                continue
            except OSError as error:  # gone or unreadable since the workspace was made
                failed.append(f"{path}: {error.strerror or error}")
                continue
            notes.update(dict.fromkeys(split_tags(tags)[1]))
            rows.append((path, before, after))
            if after != before:  # ours: what this run writes, not what was there already
                ours = after - (before - drop)  # (as spelled in the file)
                plan.append((path, tags, state, after, drop, ours))
        for note in notes:
            print(f"note: {note}")
        if args.dry_run:
            _print_plan(rows)
        else:
            manifest = {"source": args.source, "path": folder / FOLDER / f"{stamp}.json",
                        "vector_cache": vector_cache(dataset.vectorizer)}
            written = _write_planned(plan, manifest, failed)
            if written:
                print(f"tagged {len(written)} file(s); `hover-audio untag {manifest['path']}` "
                      "puts their previous tags back")
            else:
                print("no file was tagged" if plan or failed else "no file needed new tags")
    if sidecar:
        out = folder / f"range-tags-{stamp}.csv"
        if not args.dry_run:
            with open(out, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["key", "file", "start", "end", "tags"])
                writer.writerows(sidecar)
        print(f"{len(sidecar)} range/channel row(s) are parts of files: their tags "
              f"{'would go' if args.dry_run else 'went'} to {out}, not into the files")
    for problem in failed:
        print(f"  not tagged: {problem}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} file(s) {'would not be' if args.dry_run else 'were not'} "
              "tagged (listed above)", file=sys.stderr)
    return 1 if failed else 0


def _print_plan(rows: list) -> None:
    """File (relative to the folder all of them are in), tags before -> tags after."""
    if not rows:
        print("no file would be tagged (dry run)")
        return
    paths = [os.path.abspath(path) for path, _, _ in rows]
    try:
        root = os.path.commonpath([os.path.dirname(path) for path in paths])
    except ValueError:  # (files on several Windows drives)
        root = ""
    names = [os.path.relpath(path, root) if root else path for path in paths]
    width = max([len(name) for name in names] + [4])
    if root:
        print(f"files under {root}:")
    print(f"{'file':{width}s}  tags before -> tags after (dry run: nothing written)")
    for name, (_, before, after) in zip(names, rows):
        print(f"{name:{width}s}  {', '.join(sorted(before)) or '-'} -> "
              f"{', '.join(sorted(after)) or '-'}")


def clear_leftovers(runs: list, files=(), dry_run: bool = False) -> None:
    """Remove (or, in a dry run, only name) the temporary copies killed runs of the
    workspace left beside its files; with the workspace's tagging lock held."""
    from ..audio.tag_history import leftover_copies

    found = leftover_copies(runs, files)
    if not found:
        return
    print(f"{'would remove' if dry_run else 'removing'} {len(found)} temporary copy(ies) an "
          "interrupted `tag` or `untag` run left behind:")
    for path in found:
        try:
            if not dry_run:
                path.unlink()
            print(f"  {path}")
        except OSError as error:
            print(f"  could not remove {path}: {error.strerror or error}", file=sys.stderr)


def vector_cache(vectorizer) -> str | bool | None:
    """Where ``vectorizer`` keeps its vectors, as a manifest records it: an absolute folder
    (the default one also when the vectorizer cannot be rebuilt), False for none."""
    from ..common.paths import default_cache_dir

    if vectorizer is not None and not getattr(vectorizer, "cache", True):
        return False
    folder = getattr(vectorizer, "cache_dir", None)
    return str(Path(default_cache_dir() if folder is None else folder).absolute())


def _same_audio(cache):
    """A :class:`~hover_audio.vectors.rewritten.SameAudio` for a manifest's vector cache:
    the files a run writes keep their vectors (their audio does not change)."""
    from ..vectors.rewritten import SameAudio

    return SameAudio(None if cache is False else cache, enabled=cache is not False)


@contextmanager
def _saved(same_audio):
    try:
        yield
    finally:
        same_audio.save()


def _write_planned(plan: list, manifest: dict, failed: list) -> dict:
    """Write each planned file's tags; returns ``{file: its fields after}`` of those written.

    ``manifest``: ``source`` and ``path`` of the run's manifest. It is saved before the
    first write (so an interrupted run can be undone) and again at the end with only
    the files written; it is removed if none was. A file whose fields differ from its
    planned ``state`` by then is not written.
    """
    from ..audio.file_tags import TagError, same_fields, snapshot, write_tags

    if not plan:
        return {}
    manifest_path, run = manifest["path"], manifest["path"].stem
    same_audio = _same_audio(manifest["vector_cache"])

    def record(complete: bool, kept) -> dict:
        return {"complete": complete, "source": manifest["source"],
                "vector_cache": manifest["vector_cache"],
                "files": {path: state for path, _, state, *_ in plan if path in kept},
                "tags": {path: sorted(after) for path, _, _, after, *_ in plan if path in kept},
                "ours": {path: sorted(ours) for path, *_, ours in plan if path in kept}}

    _save_manifest(manifest_path, record(False, {path for path, *_ in plan}))
    written = {}
    try:
        with _saved(same_audio):  # (the files written so far keep their vectors)
            for path, tags, state, _, drop, _ in plan:
                try:
                    if not same_fields(snapshot(path), state):
                        raise TagError(f"{path}: its tags changed while this run was tagging; "
                                       "not written (run `tag` again)")
                    same_audio.before(path)
                    write_tags(path, tags, before=state, drop=drop, run=run)
                    same_audio.after(path)
                    written[path] = None  # (recorded even if it cannot be read now)
                    written[path] = snapshot(path)
                except TagError as error:
                    failed.append(str(error))
                except OSError as error:
                    failed.append(f"{path}: {error.strerror or error}")
    except BaseException:  # interrupted: the manifest written first lists every file
        print(f"interrupted: `hover-audio untag {manifest_path}` puts back the tags of the "
              "files written so far", file=sys.stderr)
        raise
    if written:
        _save_manifest(manifest_path, dict(record(True, written), written={
            path: after for path, after in written.items() if after}))
    else:
        manifest_path.unlink(missing_ok=True)
    return written


def cmd_untag(args: argparse.Namespace) -> int:
    """Put back the fields a manifest recorded, skipping files whose tags changed since.

    A file whose tags are no longer what ``tag`` wrote is skipped with a message naming
    it (``--even-if-changed`` restores it anyway); one already as it was is left alone.
    Returns 1 when any file was skipped or could not be restored.
    """
    from ..audio.file_tags import TagError, restore, same_fields, snapshot, tags_in
    from ..audio.tag_history import one_run, read_manifests

    try:
        manifest = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise ValueError
    except ValueError:  # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        raise ValueError(f"{args.manifest} is not a tag manifest: give the .json file a `tag` "
                         "run printed (in the workspace's tag-manifests folder)") from None
    written, tags = manifest.get("written") or {}, manifest.get("tags") or {}
    done, already, failed, skipped = 0, 0, [], []
    folder = Path(args.manifest).parent
    same_audio = _same_audio(manifest.get("vector_cache"))  # (older manifests: the default)
    with one_run(folder) as locked, _saved(same_audio):
        if locked:
            clear_leftovers(read_manifests(folder), manifest["files"])
        for path, state in manifest["files"].items():
            try:
                current = snapshot(path)
                if same_fields(current, state):
                    already += 1  # (never written, or restored before)
                    continue
                if path in written:
                    same = same_fields(current, written[path])
                else:  # an interrupted run's manifest: compare the tags; an old one: no record
                    same = tags_in(current) == set(tags[path]) if path in tags else True
                if not same and not args.even_if_changed:
                    skipped.append(f"{path}: its tags changed after the `tag` run (now "
                                   f"{sorted(tags_in(current))}); --even-if-changed restores "
                                   "it anyway, losing those changes")
                    continue
                same_audio.before(path)
                restore(path, state, run=Path(args.manifest).stem)
                same_audio.after(path)
                done += 1
            except TagError as error:
                failed.append(str(error))
            except OSError as error:
                failed.append(f"{path}: {error.strerror or error}")
    print(f"restored the previous tags of {done} file(s)"
          + (f"; {already} already had them" if already else ""))
    for problem in skipped:
        print(f"  skipped: {problem}", file=sys.stderr)
    for problem in failed:
        print(f"  not restored: {problem}", file=sys.stderr)
    if skipped or failed:
        print(f"{len(skipped) + len(failed)} file(s) not restored (listed above)",
              file=sys.stderr)
    return 1 if skipped or failed else 0


def add_tag_commands(commands) -> None:
    """Add ``tag`` and ``untag`` to the ``hover-audio`` subcommands."""
    tag = commands.add_parser("tag", help="write a workspace's labels or tags into the files' "
                                          "own metadata (ID3, Vorbis comments, RIFF INFO)")
    tag.add_argument("workspace", help="the workspace whose rows say the tags")
    tag.add_argument("--from", dest="source", choices=["labels", "tags", "suggested"],
                     default="labels", help="labels (default), the tags column, or the "
                     "model's suggested tags (at least --threshold)")
    tag.add_argument("--threshold", type=probability, default=0.25,
                     help="with --from suggested: the least probability kept (default 0.25)")
    tag.add_argument("--synonyms", help="CSV of tag,synonym rows: a tag adds its synonyms")
    tag.add_argument("--dry-run", action="store_true",
                     help="print file, tags before, tags after; write nothing")
    tag.add_argument("--even-if-changed", action="store_true",
                     help="also tag files whose audio changed since the workspace's vectors "
                          "were made")
    tag.set_defaults(run=cmd_tag)
    untag = commands.add_parser("untag", help="put back the tags a `tag` run replaced")
    untag.add_argument("manifest", help="the manifest a `tag` run printed")
    untag.add_argument("--even-if-changed", action="store_true",
                       help="also restore files whose tags were changed after the `tag` run "
                            "(those changes are lost)")
    untag.set_defaults(run=cmd_untag)
