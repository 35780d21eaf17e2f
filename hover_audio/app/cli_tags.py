"""``hover-audio tag`` and ``untag``: a workspace's labels or tags written into the files.

``tag`` collects each file's tags (its whole-file rows' labels or ``tags``, plus
synonyms), writes them with :mod:`hover_audio.audio.file_tags` (merged with what the
file has), and records every file's previous fields in a manifest, so ``untag
MANIFEST`` puts them back exactly. Rows that are parts of a file (ranges, channels)
never write into it: their tags go to a sidecar CSV. A file that cannot be tagged is
reported (file, reason) and skipped; the others are written.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from .cli_args import probability


def read_synonyms(path) -> dict[str, set[str]]:
    """``tag,synonym`` rows (a header row ``tag,synonym`` is allowed): tag -> synonyms."""
    synonyms: dict[str, set[str]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().lower() == "tag":
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}, line {number}: expected tag,synonym")
            synonyms.setdefault(row[0].strip(), set()).add(row[1].strip())
    return synonyms


def file_tags(dataset, source: str, synonyms: dict, threshold: float = 0.25
              ) -> tuple[dict, list]:
    """``{file: tags}`` of whole-file rows, and sidecar rows (key, file, start, end, tags)."""
    from ..audio.sources import local_path, parse_key
    from ..dataset.tagging import parse_tags

    table = dataset.to_pandas()
    files: dict[str, set] = {}
    sidecar = []
    for record in table.to_dict("records"):
        if source == "labels":
            tags = set() if record["label"] == "ABSTAIN" else {record["label"]}
        elif source == "suggested":  # "tag:probability" pairs of suggest_tags
            tags = {tag for tag, _, p in (part.rpartition(":") for part in
                                          str(record.get("suggested_tags") or "").split(";")
                                          if ":" in part) if float(p) >= threshold}
        else:
            tags = parse_tags(record.get("tags"))
        for tag in list(tags):
            tags |= synonyms.get(tag, set())
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
    return files, sidecar


def cmd_tag(args: argparse.Namespace) -> int:
    from ..audio.file_tags import TagError, snapshot, write_tags
    from ..dataset.audio_dataset import AudioDataset

    dataset = AudioDataset.load(args.workspace, attach=False)
    synonyms = read_synonyms(args.synonyms) if args.synonyms else {}
    if args.source == "suggested":
        dataset.suggest_tags(threshold=args.threshold)
    files, sidecar = file_tags(dataset, args.source, synonyms, args.threshold)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 10**9:09d}"  # one per run
    manifest, failed, rows = {}, [], []
    vectors = Path(args.workspace) / "vectors.npy"
    since = vectors.stat().st_mtime if vectors.exists() else None
    for path, tags in sorted(files.items()):
        try:
            if since is not None and not args.even_if_changed and Path(path).stat().st_mtime > since:
                raise TagError(f"{path}: changed since the workspace's vectors were made "
                               "(its labels may not fit it any more); --even-if-changed tags it")
            state = snapshot(path)  # for the manifest, and the write's starting point
            before, after = write_tags(path, tags, dry_run=args.dry_run, before=state)
        except TagError as error:
            failed.append(str(error))
            continue
        except OSError as error:  # gone or unreadable since the workspace was made
            failed.append(f"{path}: {error.strerror or error}")
            continue
        if after != before:
            manifest[path] = state
        rows.append((path, before, after))
    width = max([len(Path(path).name) for path, _, _ in rows] + [4])
    if args.dry_run:
        print(f"{'file':{width}s}  tags before -> tags after (dry run: nothing written)")
        for path, before, after in rows:
            print(f"{Path(path).name:{width}s}  {', '.join(sorted(before)) or '-'} -> "
                  f"{', '.join(sorted(after))}")
    folder = Path(args.workspace)
    if manifest and not args.dry_run:
        written = folder / "tag-manifests" / f"{stamp}.json"
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_text(json.dumps({"files": manifest}, indent=1))
        print(f"tagged {len(manifest)} file(s); `hover-audio untag {written}` puts their "
              "previous tags back")
    elif not args.dry_run:
        print("no file needed new tags")
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
    return 0


def cmd_untag(args: argparse.Namespace) -> int:
    from ..audio.file_tags import TagError, restore

    try:
        manifest = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise ValueError
    except ValueError:  # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        raise ValueError(f"{args.manifest} is not a tag manifest: give the .json file a `tag` "
                         "run printed (in the workspace's tag-manifests folder)") from None
    done, failed = 0, []
    for path, state in manifest.get("files", {}).items():
        try:
            restore(path, state)
            done += 1
        except TagError as error:
            failed.append(str(error))
    print(f"restored the previous tags of {done} file(s)")
    for problem in failed:
        print(f"  not restored: {problem}", file=sys.stderr)
    return 0 if not failed else 1


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
                     help="also tag files modified after the workspace's vectors were made")
    tag.set_defaults(run=cmd_tag)
    untag = commands.add_parser("untag", help="put back the tags a `tag` run replaced")
    untag.add_argument("manifest", help="the manifest a `tag` run printed")
    untag.set_defaults(run=cmd_untag)
