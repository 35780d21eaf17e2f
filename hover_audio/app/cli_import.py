"""``hover-audio import``: another tool's labels merged into a workspace, as one operation.

The summary counts rows (a row whose label and tags both change is one updated row), and
names every problem of the file: records that could not be read, and each audio file
that is not there (the command adds no row for audio that is not there; a row the
workspace already has takes its labels even so). Exit 0: everything the file holds was
imported (notes, such as Audacity point labels read as ranges, leave nothing out);
1: some of it was not (the rest is imported, one undo step), or none of it.
"""
from __future__ import annotations

import argparse
import sys

FORMAT_NAMES = ["prodigy", "label-studio", "encord", "raven", "audacity", "csv", "json",
                "parquet"]


def _rows(report, action: str) -> int:
    """How many rows (keys) the merge report has for ``action``."""
    return int(report.loc[report["action"] == action, "key"].nunique())


def _applied_labels(report) -> set:
    """The labels the merge gave rows: new rows' labels and label columns updated."""
    from ..dataset.schema import LABEL

    taken = (report["action"] == "new") | (
        (report["action"] == "updated") & (report["column"] == LABEL))
    return set(report.loc[taken, "theirs"])


def cmd_import(args: argparse.Namespace) -> int:
    from ..dataset.audio_dataset import AudioDataset
    from ..dataset.formats import Note, read_file
    from ..dataset.schema import ABSTAIN, LABEL

    dataset = AudioDataset.load(args.workspace)
    try:
        def known(key: str) -> bool:  # a row the workspace has keeps its labels coming
            return bool(dataset.positions([key], missing="skip")[0] >= 0)

        table, problems = read_file(args.file, args.format, args.audio_root,
                                    keep_missing=known)
        for problem in problems[:20]:
            print(f"  {'note' if isinstance(problem, Note) else 'problem'}: {problem}")
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more")
        labels = set(dataset.column(LABEL))
        report = dataset.merge(table, overwrite=args.overwrite)
    finally:
        dataset.close()
    fresh = sorted(_applied_labels(report) - labels - {ABSTAIN})
    if fresh:
        print(f"  new label(s), not in the workspace before: {', '.join(fresh[:20])}")
    new, updated, conflicts = (_rows(report, action) for action in
                               ("new", "updated", "conflict"))
    left_out = [problem for problem in problems if not isinstance(problem, Note)]
    notes = len(problems) - len(left_out)
    print(f"imported {args.file} into {args.workspace}: {new} new, {updated} updated, "
          f"{conflicts} conflicting (kept ours{'' if not args.overwrite else ', overwritten'}), "
          f"{len(left_out)} problem(s) in the file" + (f", {notes} note(s)" if notes else "")
          + "; " + ("one operation: undo reverts it" if new or updated else "nothing changed"))
    for row in report[report["action"] == "conflict"].head(20).itertuples():
        print(f"  conflict {row.key}: {row.column} ours {row.ours!r}, theirs {row.theirs!r}")
    if left_out and not len(table):
        print(f"error: no record of {args.file} could be imported (the problems above say "
              "why)", file=sys.stderr)
        return 1
    if left_out:
        print(f"error: the import of {args.file} is incomplete: {len(left_out)} problem(s) "
              "above left records out; the rest is imported", file=sys.stderr)
        return 1
    return 0


def add_import_command(commands) -> None:
    importer = commands.add_parser(
        "import", help="merge labels from another tool's file into a workspace (undoable)")
    importer.add_argument("file", help="a .jsonl, .json, .txt (a Raven table or an Audacity "
                          "label track), table, or folder of label tracks")
    importer.add_argument("--workspace", required=True, help="the workspace to merge into")
    importer.add_argument("--format", choices=FORMAT_NAMES, default=None)
    importer.add_argument("--audio-root", default=None,
                          help="where the audio is, for every format: relative audio paths "
                               "point from it (default: the file's folder); audacity, the "
                               "folder the tracks mirror (default: where an export by "
                               "hover-audio found it, else next to the .txt); raven, where "
                               "Begin File names are; label-studio, also the document root "
                               "of /data/local-files/?d= paths, or the media folder (or the "
                               "originals' folder) of /data/upload/ files")
    importer.add_argument("--overwrite", action="store_true",
                          help="on a conflict take the file's value (default: keep ours)")
    importer.set_defaults(run=cmd_import)
