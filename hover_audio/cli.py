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


def cmd_vectorize(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .features import MFCCVectorizer
    from .workspace import is_workspace

    source = Path(args.path)
    if source.is_dir() and is_workspace(source):
        from .dataset import AudioDataset

        dataset = AudioDataset.load(source)
    else:
        dataset = _open_dataset(args.path)
        target = Path(args.workspace) if args.workspace else None
        if target is not None:
            dataset.save(target)
    vectorizer = MFCCVectorizer(cache_dir=args.cache_dir)
    report = dataset.vectorize(vectorizer, workers=args.workers, progress=not args.quiet)
    failed = report[report["kind"] != "truncated"]
    print(f"vectorized {len(dataset) - len(failed)} of {len(dataset)} clips "
          f"({vectorizer.dim} dimensions); {len(failed)} failed")
    for row in failed.head(20).itertuples():
        print(f"  {row.kind}: {row.message}")
    if len(failed) > 20:
        print(f"  ... and {len(failed) - 20} more")
    if dataset.workspace is None:
        print("(no --workspace given: the vectors are cached but not saved in a workspace)")
    dataset.close()
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
    vectorize = commands.add_parser(
        "vectorize", help="compute (and cache) the vectors of a workspace, folder or table")
    vectorize.add_argument("path", help="workspace folder, audio folder, or table file")
    vectorize.add_argument("--workspace", help="save a new workspace here (folder/table input)")
    vectorize.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    vectorize.add_argument("--cache-dir", default=None, help="vector cache (default: custom_cache/)")
    vectorize.add_argument("--quiet", action="store_true", help="no progress bar")
    vectorize.set_defaults(run=cmd_vectorize)
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
