"""The ``hover-audio`` command line. Heavy imports happen inside the commands."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_args import check_listening, port_number, worker_count
from .cli_compare import add_compare_commands
from .cli_import import FORMAT_NAMES, add_import_command
from .cli_predict import add_predict_commands
from .cli_tags import add_tag_commands
from .opening import is_workspace, open_attached, open_dataset, parse_segment, refuse_cutting


def chosen_vectorizer(args: argparse.Namespace, **params):
    """The vectorizer named by ``--vectorizer`` (default: the registry's default)."""
    from ..vectors import registry

    return registry.make(getattr(args, "vectorizer", None) or registry.DEFAULT, **params)


def _needs_vectors(dataset, args: argparse.Namespace) -> bool:
    """No vectors yet, vectors of an older version of a registered vectorizer, rows never
    vectorized (files added since), or ``--vectorizer`` names another class than the one
    that made them."""
    import numpy as np

    from ..vectors import registry

    if dataset.vectors is None or _stale_name(dataset) is not None:
        return True
    if "vector_error" in dataset.columns:  # a row with neither a vector nor an error
        from ..common.values import is_missing

        empty = np.isnan(dataset.vectors).all(axis=1)
        errors = dataset.column("vector_error")
        if any(is_missing(errors[at]) for at in np.flatnonzero(empty)):
            return True
    if not getattr(args, "vectorizer", None):
        return False
    wanted = registry.vectorizer_class(args.vectorizer)
    return type(dataset.vectorizer) is not wanted


def _stale_name(dataset) -> str | None:
    """The registered name of the vectorizer whose older version made the saved vectors."""
    from ..vectors import registry

    stale = dataset.stale_vectorizer
    return None if stale is None else registry.name_of(stale)


def vectorizer_for(dataset, args: argparse.Namespace):
    """What ``serve`` vectorizes with: ``--vectorizer``'s, else the one that made the
    vectors (cache hits for the rows it has done), else, for vectors of an older version,
    the current version of the same registered vectorizer, else the default."""
    from ..vectors import registry

    named = getattr(args, "vectorizer", None)
    if not named and dataset.vectorizer is not None:
        return dataset.vectorizer
    stale = None if named else _stale_name(dataset)
    if stale is not None:
        print(f"hover-audio: the saved vectors were made by an older version of {stale!r}: "
              "computing them again")
    return registry.make(named or stale or registry.DEFAULT)


def run_annotator(dataset, args: argparse.Namespace, title: str) -> int:
    from ..vectors.batch import failed_rows, failure_lines, note_lines
    from . import recipes
    from .server import improve_layout_in_background, serve

    if not args.no_umap:  # compile umap-learn (first run on a machine) while vectors are made
        from ..maps.warmup import warm_up_in_background

        warm_up_in_background()
    if _needs_vectors(dataset, args):
        vectorizer = vectorizer_for(dataset, args)
        print(f"hover-audio: vectors by {vectorizer!r}")
        report = dataset.vectorize(vectorizer, progress=not args.quiet)
        failed = failed_rows(report)
        _say_problems(len(failed), failure_lines(report), note_lines(report))
        dataset.compute_nd_embedding(method="pca")  # a map at once; UMAP follows
    else:
        if dataset.vectorizer is None:
            print("hover-audio: the saved vectors were made by a vectorizer this version cannot "
                  "rebuild (a callable, or an older version of an unregistered class): search "
                  "by new files and aspects are off; --vectorizer mfcc recomputes them")
        if "embed_2d_0" not in dataset.columns:
            dataset.compute_nd_embedding(method="pca")
        _say_known_problems(dataset)
    if not args.no_umap:
        improve_layout_in_background(dataset)
    recipe = {"simple": recipes.simple_annotator, "linked": recipes.linked_annotator,
              "active": recipes.active_learning}[args.recipe]
    from .access import choose_token

    token = choose_token(args.host, args.token)
    serve(recipe(dataset, title=title, allow_paths=args.allow_path or ()), port=args.port,
          host=args.host, show=args.show, token=token)
    dataset.close()
    return 0


def _say_known_problems(dataset, limit: int = 10) -> None:
    """Vectors made before (a reopened workspace): say again which clips failed, and
    which came with a note (cut short, silent, truncated: the cache keeps it with the
    vector; nothing is decoded), as the run that made them did."""
    from ..common.values import is_missing
    from ..model.clip_notes import cached_notes, note_line
    from ..vectors.batch import capped

    errors = dataset.column("vector_error") if "vector_error" in dataset.columns else []
    failed = [str(error) for error in errors if not is_missing(error)]
    notes, keys = sorted(cached_notes(dataset).items()), dataset.keys
    lines = [note_line(kind, keys[row], text) for row, (kind, text) in notes[:limit]]
    _say_problems(len(failed), failed[:limit], capped(lines, len(notes), limit))


def _say_problems(failed: int, failure_lines: list[str], note_lines: list[str]) -> None:
    """Print the clips left off the map (``failed``, named by ``failure_lines``), then
    the clips with a note."""
    if failed:
        print(f"hover-audio: {failed} clip(s) could not be read; they are left off the map "
              "(their vector_error column says why):")
        for line in failure_lines:
            print(f"  {line}")
    for line in note_lines:
        print(f"hover-audio: {line}")


def cmd_serve(args: argparse.Namespace) -> int:
    check_listening(args.host, args.port)
    dataset = open_attached(args.path, args.workspace, parse_segment(args.segment),
                            args.channels)
    return run_annotator(dataset, args, title=f"hover-audio: {args.path}")


def cmd_demo(args: argparse.Namespace) -> int:
    from ..dataset.audio_dataset import AudioDataset
    from ..dataset.demo import DATA_DIR, load_dataset
    from .opening import adopt_legacy, demo_workspace, write_source

    if not args.no_serve:
        check_listening(args.host, args.port)
    target = demo_workspace()
    adopt_legacy("hover-audio-demo", target)
    if is_workspace(target) and not args.fresh:
        dataset = AudioDataset.load(target)
    else:
        dataset = load_dataset(seed=args.seed)
        dataset.save(target, overwrite=True)
        write_source(target, DATA_DIR)
    print(f"hover-audio demo: {dataset!r}; labels are saved in {target}")
    print(dataset.population().to_string())
    if args.no_serve:
        dataset.close()
        return 0
    return run_annotator(dataset, args, title="hover-audio demo: spoken digits")


def cmd_workspaces(args: argparse.Namespace) -> int:
    from .opening import list_workspaces

    found = list_workspaces()
    for item in found:
        if "error" in item:
            print(f"{item['workspace']}\n    data: {item['data']}\n    cannot open: "
                  f"{item['error']}")
            continue
        subsets = ", ".join(f"{name} {count}" for name, count in item["subsets"].items())
        print(f"{item['workspace']}\n    data: {item['data'] or '?'}\n    {item['clips']} clips, "
              f"{item['labeled']} labeled ({subsets})")
    if not found:
        print("no workspaces yet (hover-audio serve FOLDER makes one)")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    dataset = open_dataset(args.path)
    print(repr(dataset))
    print(dataset.population().to_string())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.ls_config and args.format not in (None, "label-studio"):
        print(f"error: --ls-config is Label Studio's labeling config; it goes with --format "
              f"label-studio, not {args.format}", file=sys.stderr)
        return 2
    dataset = open_dataset(args.source, parse_segment(args.segment), args.channels)
    if args.ls_config:
        from ..dataset.formats.label_studio import config

        # every label the tasks use (added by ranges or imports too), the label order first
        used = set(dataset.column("label")) - {"ABSTAIN"}
        print(config([*dataset.label_order, *sorted(used - set(dataset.label_order))]), end="")
    written = dataset.export(args.destination, format=args.format,
                             include_unlabeled=args.include_unlabeled)
    kept = len(dataset) if args.include_unlabeled or args.format in (None, "csv", "json",
                                                                      "parquet") \
        else int((dataset.column("label") != "ABSTAIN").sum())
    print(f"wrote {kept} rows to {written}", file=sys.stderr if args.ls_config else sys.stdout)
    return 0


def cmd_vectorize(args: argparse.Namespace) -> int:
    from ..vectors.batch import failed_rows, failure_lines, note_lines

    source = Path(args.path)
    if source.is_dir() and is_workspace(source):
        from ..dataset.audio_dataset import AudioDataset

        refuse_cutting(args.path, args.segment, args.channels)
        dataset = AudioDataset.load(source)
    else:
        target = Path(args.workspace) if args.workspace else None
        if target is not None and target.exists() and any(target.iterdir()):
            raise ValueError(f"--workspace {target} is not empty: pick a new folder"
                             + (f", or vectorize that workspace: hover-audio vectorize {target}"
                                if is_workspace(target) else ""))
        dataset = open_dataset(args.path, parse_segment(args.segment), args.channels)
        if target is not None:
            dataset.save(target)
    vectorizer = chosen_vectorizer(args, cache_dir=args.cache_dir)
    report = dataset.vectorize(vectorizer, workers=args.workers, progress=not args.quiet)
    failed = failed_rows(report)
    print(f"vectorized {len(dataset) - len(failed)} of {len(dataset)} clips "
          f"({vectorizer.dim} dimensions); {len(failed)} failed")
    for line in failure_lines(report, limit=20):
        print(f"  {line}")
    for line in note_lines(report, limit=20):
        print(f"  note: {line}")
    if dataset.workspace is None:
        print("(no --workspace given: the vectors are cached but not saved in a workspace)")
    dataset.close()
    return 0


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_number, default=5006,
                        help="port (default 5006; 0: any)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--show", action="store_true", help="open a browser tab")
    parser.add_argument("--token", default=None,
                        help="secret every request must carry (default: $HOVER_AUDIO_TOKEN; "
                             "a random one when --host is not loopback)")
    parser.add_argument("--allow-path", action="append", metavar="DIR",
                        help="also let searches read files under DIR (default: only the "
                             "dataset's own folders)")
    parser.add_argument("--no-umap", action="store_true",
                        help="no UMAP layout in the background: the map stays PCA's until "
                             "you ask for another (map aspect, redraw)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--recipe", choices=("simple", "linked", "active"), default="simple",
                        help="simple annotator (default), linked (with a finder view), or "
                             "active (a model in the loop)")
    _vectorizer_option(parser)


def _vectorizer_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vectorizer", metavar="NAME", default=None,
                        help="vectors by this registered vectorizer (default mfcc; "
                             "`hover-audio vectorizers` lists them)")


def cmd_warmup(args: argparse.Namespace) -> int:
    from ..maps.jit import use_numba_cache
    from ..maps.warmup import warm_up

    folder = use_numba_cache()
    seconds = warm_up(large_maps=True)
    print(f"hover-audio: umap-learn (and pynndescent, for maps of 4,096 clips or more) "
          f"compiled and cached in {folder} ({seconds:.1f} s); maps in new processes start "
          "without compiling")
    return 0


def _segment_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--segment", metavar="SECONDS|nonsilent", default=None,
                        help="cut each file into range rows: fixed windows of SECONDS, or "
                             "'nonsilent' (cut at silences); a shorter file is one row")
    parser.add_argument("--channels", choices=["split"], default=None,
                        help="split: one row per channel of a multichannel file "
                             "(keys file.wav#channel=N)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hover-audio",
        description="Label audio in bulk by listening to an embedding map.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="open the annotator on a folder, table or workspace")
    serve.add_argument("path", help="audio folder, .csv/.json/.parquet table, or workspace")
    serve.add_argument("--workspace", help="where labels are saved (default: a folder named by "
                                           "the data's path in the user's data folder)")
    _server_options(serve)
    _segment_option(serve)
    serve.set_defaults(run=cmd_serve)
    demo = commands.add_parser("demo", help="open the annotator on the embedded spoken digits")
    demo.add_argument("--seed", type=int, default=0, help="seed of the demo split")
    demo.add_argument("--fresh", action="store_true", help="start over (forget demo labels)")
    demo.add_argument("--no-serve", action="store_true", help="only print the population")
    _server_options(demo)
    demo.set_defaults(run=cmd_demo)
    listing = commands.add_parser("workspaces", help="list the default workspaces: where "
                                  "labels are saved, their data and counts")
    listing.set_defaults(run=cmd_workspaces)
    info = commands.add_parser(
        "info", help="show the label x subset counts of a workspace, table or folder"
    )
    info.add_argument("path", help="workspace folder, audio folder, or .csv/.json/.parquet")
    info.set_defaults(run=cmd_info)
    vectorize = commands.add_parser(
        "vectorize", help="compute (and cache) the vectors of a workspace, folder or table")
    vectorize.add_argument("path", help="workspace folder, audio folder, or table file")
    vectorize.add_argument("--workspace", help="save a new workspace here (folder/table input)")
    vectorize.add_argument("--workers", type=worker_count, default=None,
                           help="processes (default: all cores)")
    vectorize.add_argument("--cache-dir", default=None,
                           help="vector cache (default: custom_cache/)")
    vectorize.add_argument("--quiet", action="store_true", help="no progress bar")
    _vectorizer_option(vectorize)
    _segment_option(vectorize)
    vectorize.set_defaults(run=cmd_vectorize)
    add_compare_commands(commands)
    add_tag_commands(commands)
    add_predict_commands(commands)
    export = commands.add_parser("export", help="write a workspace/table/folder as a table")
    export.add_argument("source", help="workspace folder, audio folder, or table file")
    export.add_argument("destination", help="output file (or folder, for audacity)")
    export.add_argument("--format", choices=FORMAT_NAMES, default=None,
                        help="prodigy|label-studio|encord|raven|audacity|csv|json|parquet "
                             "(default: by the destination's suffix)")
    export.add_argument("--include-unlabeled", action="store_true",
                        help="also write ABSTAIN rows to other tools' formats")
    export.add_argument("--ls-config", action="store_true",
                        help="print the Label Studio labeling config (XML) for the labels")
    _segment_option(export)
    export.set_defaults(run=cmd_export)
    add_import_command(commands)
    warmup = commands.add_parser(
        "warmup", help="compile the map code once into the user's cache (make does this)")
    warmup.set_defaults(run=cmd_warmup)
    return parser


def _say_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings on the command line: one line for the person, not Python's source lines."""
    print(f"hover-audio: warning: {message}", file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    import warnings

    try:
        with warnings.catch_warnings():  # (put back as it was when main returns)
            warnings.showwarning = _say_warning
            return args.run(args)
    except RuntimeError as error:
        from ..dataset.store import WorkspaceInUse  # (imported already if it is one)

        if not isinstance(error, WorkspaceInUse):
            raise
        print(f"hover-audio: error: workspace {error.folder} is open in another process "
              f"(pid {error.owner}): stop that one first (`info` and `export` read it "
              "meanwhile)", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the output went to a program that stopped reading (| head)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, OSError, ImportError) as error:  # ImportError: an extra is missing
        # (OSError: a file or folder missing, unreadable or unwritable, a cache folder that
        # cannot be made, an address the server cannot take)
        print(f"hover-audio: error: {error}", file=sys.stderr)
        return 1
    except KeyError as error:  # an unknown name (vectorizer, key)
        print(f"hover-audio: error: {error.args[0]}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
