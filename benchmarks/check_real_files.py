"""Every audio file of a shelf of Debian packages through the default vectorizer:
which ones fail to decode, and why.

Sample libraries, drum kits, game sounds and music, as their makers ship them (WAV
of every bit depth, AIFF, FLAC, Ogg Vorbis, Opus, Ogg inside WAV, long tracks). Each
package is fetched with ``apt-get download`` into the benchmark cache
(``real_sets.fetch``, ``$HOVER_AUDIO_BENCH_DATA``), the folder scan lists its audio
files, and ``MFCCVectorizer().transform`` runs on a fresh cache. Prints, per package,
the files by suffix, what the report holds (by kind, with a first message), and the
seconds taken. Not part of ``make test``: the packages are about 600 MB.

Usage: ``python benchmarks/check_real_files.py [PACKAGE ...]``
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_sets import DEFAULT_CACHE, fetch  # noqa: E402 - the benchmarks' own helper

PACKAGES = [
    "lmms-common", "hydrogen-data", "hydrogen-drumkits", "sonic-pi-samples", "sound-icons",
    "alsa-utils", "supertux-data", "ktuberling-data", "extremetuxracer-data", "freeciv-data",
    "frozen-bubble-data", "pingus-data", "xmoto-data", "wesnoth-1.16-music",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", default=PACKAGES)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    from hover_audio.dataset.folder import find_audio_files
    from hover_audio.vectors.mfcc import MFCCVectorizer

    root = fetch(args.cache, args.packages, each=True)
    failed_total = files_total = 0
    for package in args.packages:
        files = [str(path) for path in find_audio_files(root / package)]
        if not files:
            print(f"{package}: no audio files")
            continue
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="check_real_files_") as cache:
            _, report = MFCCVectorizer(cache_dir=cache).transform(files, progress=False)
        seconds = time.perf_counter() - start
        suffixes = collections.Counter(Path(name).suffix.lower() for name in files)
        failed = report[report["kind"] != "truncated"]
        files_total += len(files)
        failed_total += len(failed)
        kinds = ", ".join(f"{count} {suffix}" for suffix, count in suffixes.most_common())
        print(f"{package}: {len(files)} files ({kinds}), {len(failed)} failed, "
              f"{len(report) - len(failed)} truncated, {seconds:.1f} s")
        for kind, group in report.groupby("kind"):
            print(f"    {kind}: {len(group)}, e.g. {group['message'].iloc[0]}")
    print(f"\n{failed_total} of {files_total} files failed "
          f"({100 * failed_total / max(files_total, 1):.2f}%)")
    return 1 if failed_total else 0


if __name__ == "__main__":
    sys.exit(main())
