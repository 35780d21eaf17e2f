"""``hover-audio vectorizers`` and ``hover-audio compare``: choosing vectors for your labels."""
from __future__ import annotations

import argparse
import sys

from .cli_args import worker_count


def cmd_vectorizers(args: argparse.Namespace) -> int:
    from ..vectors import registry

    rows = registry.describe_all()
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        state = "installed" if row["installed"] else f"pip install 'hover-audio[{row['extra']}]'"
        print(f"{row['name']:{width}s}  {state:40s}  {row['description']}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..model.compare import compare
    from ..vectors.batch import failure_lines
    from .opening import open_dataset
    from .compare_report import check_plot_path, text_table, to_json, write_plot

    if args.plot:
        check_plot_path(args.plot)  # before the slow part
    dataset = open_dataset(args.path)
    table = compare(dataset, vectorizers=args.vectorizer or None, aspects=args.aspect or None,
                    map_method=None if args.no_map else "umap", workers=args.workers,
                    progress=not (args.quiet or args.json))
    for name, report in table.attrs.get("failures", {}).items():
        if len(report):  # on stderr: --json output stays one document
            print(f"{name}: {len(report)} clip(s) could not be read and are left out of its "
                  "figures:", file=sys.stderr)
            for line in failure_lines(report):
                print(f"  {line}", file=sys.stderr)
    print(to_json(table) if args.json else text_table(table))
    if len(table) and (table["failed"] == table["clips"]).all():
        print("hover-audio: error: no clip could be read by any vectorizer (see above)",
              file=sys.stderr)
        return 1
    if args.plot:
        written = write_plot(table, args.plot, title=f"hover-audio compare: {args.path}")
        if not args.json:
            print(f"wrote {written}")
    return 0


def add_compare_commands(commands) -> None:
    """Add ``vectorizers`` and ``compare`` to the ``hover-audio`` subcommands."""
    listing = commands.add_parser("vectorizers",
                                  help="list the vectorizers and which are installed")
    listing.set_defaults(run=cmd_vectorizers)
    compare = commands.add_parser(
        "compare", help="which vectors separate your labels best (labeled folder/table/workspace)")
    compare.add_argument("path", help="labeled audio folder (a subfolder per label), table or "
                                      "workspace")
    compare.add_argument("--vectorizer", action="append", metavar="NAME",
                         help="a vectorizer to measure (repeat; default: every installed one)")
    compare.add_argument("--aspect", action="append", metavar="NAME",
                         help="an aspect to measure (repeat; default: all)")
    compare.add_argument("--plot", metavar="FILE", help="also write a chart (.png or .html)")
    compare.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compare.add_argument("--no-map", action="store_true",
                         help="skip the labeling-effort simulation (no UMAP map)")
    compare.add_argument("--workers", type=worker_count, default=None,
                         help="processes (default: all)")
    compare.add_argument("--quiet", action="store_true", help="no progress bar")
    compare.set_defaults(run=cmd_compare)
