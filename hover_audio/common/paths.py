"""Where hover-audio keeps what it can recompute: the cache folder."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CACHE_DIR = "custom_cache"
CACHE_VARIABLE = "HOVER_AUDIO_CACHE"


def default_cache_dir() -> Path:
    """Return the cache folder: ``$HOVER_AUDIO_CACHE`` or ``./custom_cache``."""
    return Path(os.environ.get(CACHE_VARIABLE) or DEFAULT_CACHE_DIR)
