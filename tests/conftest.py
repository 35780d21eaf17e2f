"""Shared fixtures: small clip tables with awkward values, and a hermetic test session.

Every cache the package keeps (vectors, layouts, numba's JIT cache) and the
default workspaces go to a temporary folder for the session, and the session fails if any
test left a file in the checkout.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FREEDESKTOP_PACKAGE = "sound-theme-freedesktop"
FREEDESKTOP_SOUNDS = Path("/usr/share/sounds/freedesktop/stereo")
REPO = Path(__file__).resolve().parents[1]
# made by running the suite itself, not by a test
RUN_ARTIFACTS = (".pytest_cache", "__pycache__", ".venv", ".egg-info")


def checkout_files() -> set[str] | None:
    """Untracked, ignored and modified paths of the checkout (None outside a git checkout)."""
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    paths = {line[3:] for line in done.stdout.splitlines() if line.strip()}
    return {path for path in paths if not any(part in path for part in RUN_ARTIFACTS)}


def pytest_sessionstart(session):
    base = Path(session.config._tmp_path_factory.getbasetemp()) / "hermetic"
    base.mkdir(parents=True, exist_ok=True)
    os.environ["HOVER_AUDIO_CACHE"] = str(base / "hover_audio_cache")
    os.environ["NUMBA_CACHE_DIR"] = str(base / "numba")
    os.environ["HOVER_AUDIO_HOME"] = str(base / "hover_audio_home")  # default workspaces
    session.config._checkout_before = checkout_files()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_checkout_before", None)
    after = checkout_files()
    if before is None or after is None:
        return
    left = sorted(after - before)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = ("tests wrote into the checkout (they must write only under temporary "
                   "folders):\n  " + "\n  ".join(left[:20]))
        if reporter is not None:
            reporter.write("\n")
            reporter.write_line(message, red=True)
        session.exitstatus = 1


@pytest.fixture
def awkward_table() -> pd.DataFrame:
    """A table whose labels and user columns trip naive CSV/JSON round trips."""
    return pd.DataFrame(
        {
            "audio": [
                "clips/Track 18.wav",
                "https://example.org/a b.ogg#t=1.5,2.25",
                "/abs/ünïcode – clip.flac",
                "clips/comma,quote\".wav",
                "clips/e.wav",
                "clips/f.wav",
            ],
            "label": ["NA", "ABSTAIN", "007", "dog, \"big\"", "nan", "null"],
            "SUBSET": ["raw", "raw", "train", "dev", "test", "raw"],
            "speaker": ["ann", None, "bo\nb", "", "é", "x"],
            "take": [1, 2, 3, 4, 5, 6],
            "score": [0.1, np.nan, 1e-12, 3.0, -2.5, 1 / 3],
            "checked": [True, False, True, True, False, False],
        }
    )


@pytest.fixture(scope="session")
def freedesktop() -> Path:
    assert FREEDESKTOP_SOUNDS.is_dir(), (
        f"{FREEDESKTOP_SOUNDS} is missing: install the Debian package "
        f"{FREEDESKTOP_PACKAGE!r} (apt-get install {FREEDESKTOP_PACKAGE}; it is in the "
        "Makefile's APT_PACKAGES_TEST)"
    )
    return FREEDESKTOP_SOUNDS


@pytest.fixture(scope="module")
def digits_page_data():
    """A dataset vectorized by the default vectorizer (its aspects), over 80 real demo
    clips, mapped by PCA (one per test module: pages of several tests share it)."""
    from hover_audio.dataset.audio_dataset import AudioDataset
    from hover_audio.dataset.demo import demo_table

    table = demo_table().head(80)
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": table["audio"],
                                                "label": table["true_label"]}))
    ds.vectorize(progress=False, workers=1)
    ds.compute_nd_embedding(method="pca", progress=False)
    return ds
