"""Where hover-audio keeps things: labels in the user's data folder, recomputable things in a cache."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CACHE_DIR = "custom_cache"
CACHE_VARIABLE = "HOVER_AUDIO_CACHE"


def key_text(key):
    """A clip key as the text it is kept as: a path object (``pathlib.Path``) as its
    path, anything else as it is (validated by whoever takes it).

    Examples
    --------
    >>> key_text(Path("clips") / "a.wav"), key_text("b.wav#t=1,2")
    ('clips/a.wav', 'b.wav#t=1,2')
    """
    return os.fsdecode(os.fspath(key)) if isinstance(key, os.PathLike) else key


def default_cache_dir() -> Path:
    """Return the cache folder: ``$HOVER_AUDIO_CACHE`` or ``./custom_cache``."""
    return Path(os.environ.get(CACHE_VARIABLE) or DEFAULT_CACHE_DIR)


def user_cache_dir() -> Path:
    """The user's cache folder for things that belong to the machine, not a dataset.

    ``$XDG_CACHE_HOME/hover-audio`` (default ``~/.cache/hover-audio``) on Linux,
    ``~/Library/Caches/hover-audio`` on macOS, ``%LOCALAPPDATA%\\hover-audio`` on Windows.
    """
    import sys

    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "hover-audio"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "hover-audio"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hover-audio"


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
