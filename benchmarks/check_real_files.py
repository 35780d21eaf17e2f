"""Every audio file of a shelf of Debian packages through the default vectorizer:
which ones fail to decode, and why.

Sample libraries, drum kits, game sounds and music, as their makers ship them (WAV
of every bit depth, AIFF, FLAC, Ogg Vorbis, Opus, Ogg inside WAV, long tracks). Each
package is fetched with ``apt-get download`` into the benchmark cache
(``real_sets.fetch``, ``$HOVER_AUDIO_BENCH_DATA``), the folder scan lists its audio
files, and ``MFCCVectorizer().transform`` runs on a fresh cache. Prints, per package,
the files by suffix, what the report holds (by kind, with a first message), and the
seconds taken. Not part of ``make test``: the packages are about 600 MB.

With ``--ranges``, random ranges of each lossy file (Ogg Vorbis and Opus, MP3) are also
decoded and compared with the same slice of the file's whole decode.

Usage: ``python benchmarks/check_real_files.py [PACKAGE ...] [--ranges]``
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


LOSSY = (".ogg", ".oga", ".opus", ".mp3")  # ranges of these are read by seeking
RANGES_PER_FILE = 4


def check_ranges(files: list[str], seed: int = 0) -> tuple[int, int, list[str]]:
    """Random ranges of each lossy file of 1.3 s or more, each against the same slice of
    the file's whole decode: ``(files, ranges, problems)``. A range is wrong when it
    differs by more than 0.02 (a range one sample off differs by far more on real sound;
    decoders of one format differ by less) or its length is not the range's."""
    import random

    import numpy as np
    import soundfile

    from hover_audio.audio.decode import DecodeError, decode

    rng, checked, ranges, problems = random.Random(seed), 0, 0, []
    for name in files:
        if Path(name).suffix.lower() not in LOSSY:
            continue
        try:
            info = soundfile.info(name)
        except Exception:  # noqa: BLE001 - decode's whole-file check reports these
            continue
        if info.duration < 1.3:
            continue
        whole, checked = decode(Path(name)).samples, checked + 1
        for _ in range(RANGES_PER_FILE):
            start = rng.uniform(0.6, info.duration - 0.6)
            end = min(start + rng.uniform(0.2, 2.0), info.duration)
            ranges += 1
            try:
                part = decode(Path(name), start=start, end=end).samples
            except DecodeError as error:  # one range never stops the check
                problems.append(f"{name} #t={start:.3f},{end:.3f}: {error}")
                continue
            first, last = round(start * info.samplerate), round(end * info.samplerate)
            off = float(np.abs(part - whole[first:first + len(part)]).max()) \
                if len(part) == min(last, len(whole)) - first else float("inf")
            if off > 0.02:
                problems.append(f"{name} #t={start:.3f},{end:.3f}: {off:.3g} off")
    return checked, ranges, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", default=PACKAGES)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--ranges", action="store_true",
                        help=f"also {RANGES_PER_FILE} random ranges of each lossy file "
                             "against its whole decode")
    args = parser.parse_args()
    from hover_audio.dataset.folder import find_audio_files
    from hover_audio.vectors.mfcc import MFCCVectorizer

    root = fetch(args.cache, args.packages, each=True)
    failed_total = files_total = ranges_total = wrong_total = 0
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
        if args.ranges:
            checked, ranges, problems = check_ranges(files)
            ranges_total += ranges
            wrong_total += len(problems)
            print(f"    ranges: {ranges} of {checked} lossy files, {len(problems)} wrong"
                  + "".join(f"\n      {problem}" for problem in problems[:5]))
    print(f"\n{failed_total} of {files_total} files failed "
          f"({100 * failed_total / max(files_total, 1):.2f}%)")
    if args.ranges:
        print(f"{wrong_total} of {ranges_total} ranges differ from their whole decode")
    return 1 if failed_total or wrong_total else 0


if __name__ == "__main__":
    sys.exit(main())
