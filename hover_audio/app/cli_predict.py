"""``hover-audio predict-server`` and ``predict``: the model in the loop for scripts and tools."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .cli_args import counting, port_number, probability


def fitted_model(workspace: str):
    """The classifier fitted on a workspace's labeled clips (its vectors and vectorizer)."""
    from ..dataset.audio_dataset import AudioDataset
    from ..model.classifier import fit

    dataset = AudioDataset.load(workspace, attach=False)
    if dataset.vectorizer is None:
        raise ValueError(f"{workspace}: no vectorizer to read new audio with; run "
                         f"`hover-audio vectorize {workspace}` first")
    return fit(dataset)


def cmd_predict_server(args: argparse.Namespace) -> int:
    from .access import choose_token
    from .predict_server import serve

    model = fitted_model(args.workspace)
    serve(model, port=args.port, host=args.host, token=choose_token(args.host, args.token),
          name=Path(args.workspace).name)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .predict_server import prediction_items

    model = fitted_model(args.workspace)
    labels = [label.strip() for label in args.labels.split(",")] if args.labels else None
    unknown = sorted(set(labels or ()) - set(model.classes))
    if unknown:  # said once, not for every file
        raise ValueError(f"--labels {', '.join(unknown)}: not labels of this model "
                         f"({', '.join(model.classes)})")
    failed = 0
    for path in args.paths:
        try:
            found = model.predict([path], top=args.top, threshold=args.threshold,
                                  labels=labels)[0]
            line = {"file": path, "status": "ok", "predictions": prediction_items(model, found)}
        except (ValueError, OSError) as error:
            line = {"file": path, "status": "error", "message": str(error)}
        except Exception as error:  # a clip that cannot be read: said per file
            line = {"file": path, "status": "error", "message": f"{type(error).__name__}: {error}"}
        failed += line["status"] == "error"
        print(json.dumps(line), flush=True)
    return 1 if failed == len(args.paths) else 0


def add_predict_commands(commands) -> None:
    """Add ``predict-server`` and ``predict`` to the ``hover-audio`` subcommands."""
    server = commands.add_parser("predict-server",
                                 help="serve POST /model/predict for a workspace's model")
    server.add_argument("workspace", help="the workspace whose model predicts")
    server.add_argument("--port", type=port_number, default=5000,
                        help="port (default 5000; 0: any)")
    server.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default loopback; others need the token)")
    server.add_argument("--token", default=None, help="require this token (default: a random "
                                                      "one when not on loopback)")
    server.set_defaults(run=cmd_predict_server)
    predict = commands.add_parser("predict", help="print each file's labels as JSON lines")
    predict.add_argument("paths", nargs="+", help="audio files (or URLs)")
    predict.add_argument("--workspace", required=True, help="the workspace whose model predicts")
    predict.add_argument("--top", type=counting("labels"), default=5,
                         help="at most this many labels per file (default 5)")
    predict.add_argument("--threshold", type=probability, default=None,
                         help="only labels with at least this probability (0 to 1)")
    predict.add_argument("--labels", default=None, help="comma-separated labels to keep")
    predict.set_defaults(run=cmd_predict)
