"""Where hover-audio keeps things: labels in the user's data folder, recomputable things in a cache."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CACHE_DIR = "custom_cache"
CACHE_VARIABLE = "HOVER_AUDIO_CACHE"


def default_cache_dir() -> Path:
    """Return the cache folder: ``$HOVER_AUDIO_CACHE`` or ``./custom_cache``."""
    return Path(os.environ.get(CACHE_VARIABLE) or DEFAULT_CACHE_DIR)


HOME_VARIABLE = "HOVER_AUDIO_HOME"


def data_dir() -> Path:
    """Where labels live by default: ``$HOVER_AUDIO_HOME``, else the user's data folder.

    ``$XDG_DATA_HOME/hover-audio`` (default ``~/.local/share/hover-audio``) on Linux,
    ``~/Library/Application Support/hover-audio`` on macOS, ``%APPDATA%\\hover-audio``
    on Windows: the same folder whatever the current directory, and never a cache.
    """
    import sys

    if os.environ.get(HOME_VARIABLE):
        return Path(os.environ[HOME_VARIABLE]).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "hover-audio"
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "hover-audio"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "hover-audio"
