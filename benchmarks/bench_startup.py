"""Start-up cost: `import hover_audio` and `hover-audio --help`.

References measured in the same run: a bare interpreter (`python -c pass`) and
`import pandas` (the one library the dataset needs at import).
Targets: import under 1 s, --help under 0.5 s.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 7


def timed(command: list[str]) -> float:
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    python = sys.executable
    cli = str(Path(python).with_name("hover-audio"))
    bare = timed([python, "-c", "pass"])
    pandas = timed([python, "-c", "import pandas"])
    rows = [
        ("python -c pass (reference)", bare),
        ("import pandas (reference)", pandas),
        ("import hover_audio", timed([python, "-c", "import hover_audio"])),
        ("from hover_audio import AudioDataset",
         timed([python, "-c", "from hover_audio import AudioDataset"])),
        ("hover-audio --help", timed([cli, "--help"])),
    ]
    print(f"{'command':40s} {'median s':>9s} {'x bare':>7s} {'x pandas':>9s}")
    for name, seconds in rows:
        print(f"{name:40s} {seconds:9.3f} {seconds / bare:7.2f} {seconds / pandas:9.2f}")


if __name__ == "__main__":
    main()
