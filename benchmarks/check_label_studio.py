"""Check that our Label Studio export is what Label Studio's own SDK accepts.

Usage: ``python benchmarks/check_label_studio.py --sdk-python PYTHON``

``label-studio-sdk`` installs from PyPI (2.1.2: about 500 MB with its dependencies,
too heavy for the test install), so it lives in its own environment, e.g.
``python -m venv /tmp/ls && /tmp/ls/bin/pip install label-studio-sdk``. This script
exports a dataset with whole files, ranges, a transcript and a channel row, writes the
labeling config (``--ls-config``), and asks the SDK's ``LabelInterface`` to validate
every annotation and region; a region with an unknown label must be rejected.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

VALIDATE = """
import json, sys
from label_studio_sdk.label_interface import LabelInterface
interface = LabelInterface(open(sys.argv[1]).read())
tasks = json.load(open(sys.argv[2]))
results = {"annotations": [], "regions": []}
for task in tasks:
    for annotation in task.get("annotations", []):  # an unlabeled task has none
        results["annotations"].append(bool(interface.validate_annotation(annotation)))
        results["regions"] += [bool(interface.validate_region(r)) for r in annotation["result"]]
bad = {"result": [{"type": "labels", "from_name": "region", "to_name": "audio",
                   "value": {"start": 0, "end": 1, "channel": 0, "labels": ["no such label"]}}]}
results["unknown label rejected"] = not interface.validate_annotation(bad)
print(json.dumps(results))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdk-python", required=True,
                        help="a Python that has label-studio-sdk installed")
    args = parser.parse_args()
    from hover_audio import AudioDataset
    from hover_audio.dataset.formats.label_studio import config

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        t = np.arange(3 * 16000) / 16000
        soundfile.write(tmp / "a.wav", 0.3 * np.sin(2 * np.pi * 440 * t), 16000)
        soundfile.write(tmp / "s.wav", np.stack([np.sin(t * 2000), np.sin(t * 5000)], 1) * .3,
                        16000)
        ds = AudioDataset.from_pandas(pd.DataFrame({
            "audio": [str(tmp / "a.wav"), f"{tmp / 'a.wav'}#t=0.5,1.25",
                      f"{tmp / 's.wav'}#t=1,2&channel=1", str(tmp / "s.wav")],
            "label": ["dog", "bark", "bark", "ABSTAIN"], "SUBSET": ["train", "raw", "dev", "raw"],
            "note": ["n1", "n2", "n3", "n4"]}))
        ds.set_transcript([f"{tmp / 'a.wav'}#t=0.5,1.25"], "woof")
        tasks = ds.export(tmp / "tasks.json", format="label-studio")
        (tmp / "config.xml").write_text(config(ds.label_order))
        done = subprocess.run([args.sdk_python, "-c", VALIDATE, str(tmp / "config.xml"),
                               str(tasks)], capture_output=True, text=True)
        if done.returncode:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        results = json.loads(done.stdout.strip().splitlines()[-1])
    version = subprocess.run([args.sdk_python, "-c", "import importlib.metadata as m;"
                              "print(m.version('label-studio-sdk'))"],
                             capture_output=True, text=True).stdout.strip()
    ok = (all(results["annotations"]) and all(results["regions"])
          and results["unknown label rejected"])
    print(f"label-studio-sdk {version}: {len(results['annotations'])} annotations, "
          f"{len(results['regions'])} results valid: {all(results['regions'])}; an unknown "
          f"label rejected: {results['unknown label rejected']} -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
