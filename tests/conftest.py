"""Shared fixtures: small clip tables with awkward values."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FREEDESKTOP_PACKAGE = "sound-theme-freedesktop"
FREEDESKTOP_SOUNDS = Path("/usr/share/sounds/freedesktop/stereo")


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
