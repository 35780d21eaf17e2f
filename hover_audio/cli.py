"""The ``hover-audio`` command line. Heavy imports happen inside the commands."""
from __future__ import annotations

import argparse
import sys


def _open_dataset(path: str):
    from pathlib import Path

    from .dataset import AudioDataset
    from .workspace import is_workspace

    target = Path(path)
    if target.is_dir():
        if is_workspace(target):
            return AudioDataset.load(target, attach=False)
        return AudioDataset.from_folder(target)
    return AudioDataset.from_file(target)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import load_dataset

    dataset = load_dataset(seed=args.seed)
    print(f"hover-audio demo: {dataset!r}")
    print(dataset.population().to_string())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    dataset = _open_dataset(args.path)
    print(repr(dataset))
    print(dataset.population().to_string())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    dataset = _open_dataset(args.source)
    written = dataset.export(args.destination)
    print(f"wrote {len(dataset)} rows to {written}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hover-audio",
        description="Label audio in bulk by listening to an embedding map.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="load the embedded spoken-digits demo")
    demo.add_argument("--seed", type=int, default=0, help="seed of the demo split")
    demo.set_defaults(run=cmd_demo)
    info = commands.add_parser(
        "info", help="show the label x subset counts of a workspace, table or folder"
    )
    info.add_argument("path", help="workspace folder, audio folder, or .csv/.json/.parquet")
    info.set_defaults(run=cmd_info)
    export = commands.add_parser("export", help="write a workspace/table/folder as a table")
    export.add_argument("source", help="workspace folder, audio folder, or table file")
    export.add_argument("destination", help="output .csv, .json or .parquet")
    export.set_defaults(run=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError) as error:
        print(f"hover-audio: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
