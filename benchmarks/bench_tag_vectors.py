"""Tags written into files, then the files met again: their vectors kept, or made again.

Usage: ``python benchmarks/bench_tag_vectors.py [--per-label 40]``

Real recordings (``benchmarks/real_sets.py``: drum samples of Hydrogen kits, WAV and
FLAC; KTuberling's spoken object names, Ogg Vorbis, Opus and WAV), at most
``--per-label`` of each label, are copied twice into a temporary folder (``tag``
writes into them; the benchmark's data are never touched). Each copy becomes a
workspace labeled from the sets, vectorized on a cold cache of its own, then tagged
with ``hover-audio tag`` (labels into the files). Copy A runs as shipped: the tag run
tells the cache the audio is unchanged (:mod:`hover_audio.vectors.rewritten`); copy B,
the reference, runs with that turned off, which is what ``tag`` did before. Then, on
each copy, what meets the tagged files again: (1) vectorizing them all as ``serve``
on their folder or a notebook would, all cores; (2) a second ``tag`` run, whose first
step vectorizes every file to find audio changed since the workspace's vectors.
Everything runs in this process (both copies alike); seconds, and ours / reference.
Target: no file is vectorized again after its tags were written (every vector a hit).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_sets import load_sets, sample  # noqa: E402

from hover_audio import AudioDataset, MFCCVectorizer  # noqa: E402
from hover_audio.app import cli_tags  # noqa: E402
from hover_audio.app.cli import main as cli  # noqa: E402
from hover_audio.vectors.rewritten import SameAudio  # noqa: E402


def copy_files(table: pd.DataFrame, folder: Path) -> list[str]:
    """Copy each clip into ``folder`` (a numbered name keeps the suffix); the new paths."""
    folder.mkdir(parents=True)
    paths = []
    for at, source in enumerate(table["audio"]):
        target = folder / f"{at:05d}-{Path(source).name}"
        shutil.copy2(source, target)
        paths.append(str(target))
    return paths


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def quiet_cli(args: list[str]) -> list[str]:
    """Run a command; what it wrote to stderr (the files it did not tag, and why)."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        cli(args)
    return err.getvalue().strip().splitlines()


def run_copy(table: pd.DataFrame, base: Path, keep: bool, then: str) -> dict:
    """One copy: workspace, cold vectors, tag run, then the files met again by ``then``:
    "vectorize" or "tag" (each on a copy of its own: the first makes the vectors the
    second would look for)."""
    paths = copy_files(table, base / "files")
    vectorizer = MFCCVectorizer(cache_dir=base / "cache")
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": paths, "label": table["label"].values,
                                                "SUBSET": "train"}))
    ds.vectorize(vectorizer, progress=False)
    ds.save(base / "ws")
    ds.close()
    original = cli_tags._same_audio
    if not keep:  # the reference: the tag run leaves the vectors behind, as before
        cli_tags._same_audio = lambda cache: SameAudio(enabled=False)
    try:
        tag_s, said = timed(lambda: quiet_cli(["tag", str(base / "ws")]))
        if then == "vectorize":
            again = MFCCVectorizer(cache_dir=base / "cache")
            seconds, (_, report) = timed(lambda: again.transform(paths, progress=False))
            return {"tag_s": tag_s, "said": said, "vectorize_s": seconds,
                    "failures": len(report)}
        seconds, _ = timed(lambda: quiet_cli(["tag", str(base / "ws")]))
        return {"tag_s": tag_s, "said": said, "retag_s": seconds}
    finally:
        cli_tags._same_audio = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-label", type=int, default=40)
    args = parser.parse_args()
    sets = load_sets(names=["drums", "languages-held-out"])
    table = pd.concat([sample(frame, args.per_label) for frame in sets.values()],
                      ignore_index=True)
    suffixes = table["audio"].map(lambda name: Path(name).suffix.lower()).value_counts()
    print(f"{len(table)} real files ({', '.join(f'{n} {s}' for s, n in suffixes.items())}), "
          f"{table['label'].nunique()} labels; all cores")
    with tempfile.TemporaryDirectory(prefix="bench-tag-") as temp:
        ours, reference = {}, {}
        for then in ("vectorize", "tag"):
            ours.update(run_copy(table, Path(temp) / f"kept-{then}", True, then))
            reference.update(run_copy(table, Path(temp) / f"made-again-{then}", False, then))
    for line in ours["said"]:
        print(f"tag: {line}")
    print(f"vectorizing again failed on {ours['failures']} / {reference['failures']} files")
    print(f"{'step':48s} {'kept s':>8s} {'made again s':>13s} {'kept/ref':>9s}")
    for name, label in (("tag_s", "`tag` (labels into the files)"),
                        ("vectorize_s", "(1) vectorize the tagged files again"),
                        ("retag_s", "(2) a second `tag` run (checks the audio first)")):
        print(f"{label:48s} {ours[name]:8.2f} {reference[name]:13.2f} "
              f"{ours[name] / reference[name]:9.2f}")
    hits = all(ours[name] < reference[name] / 5 for name in ("vectorize_s", "retag_s"))
    print("target: the tagged files are not vectorized again ((1) and (2) under a fifth of the "
          f"reference's time): {'PASS' if hits else 'FAIL'}")


if __name__ == "__main__":
    main()
