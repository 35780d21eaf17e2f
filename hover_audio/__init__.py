"""hover-audio: label audio in bulk by listening to an embedding map.

The public names are imported on first use, so ``import hover_audio`` stays fast
and heavy libraries load only where they are needed.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0.dev0"

_EXPORTS = {
    "AudioDataset": ".dataset",
    "SupervisableAudioDataset": ".dataset",
    "DuplicateKeysWarning": ".dataset",
    "ChangeEvent": ".dataset",
    "ABSTAIN": ".schema",
    "SUBSETS": ".schema",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name], __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hover_audio' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
