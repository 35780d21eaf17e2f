"""hover-audio: label audio in bulk by listening to an embedding map.

The package reads as the data flow, each layer using only those before it::

    common -> audio -> vectors -> maps -> dataset -> model -> app

(see ``docs/architecture.md``). The public names below are imported on first
use, so ``import hover_audio`` stays fast and heavy libraries load only where
they are needed. hover's module paths work too: ``hover_audio.core.dataset``
and ``hover_audio.recipes.stable``.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0.dev0"

_EXPORTS = {
    "AudioDataset": ".dataset.audio_dataset",
    "SupervisableAudioDataset": ".dataset.supervisable",
    "DuplicateKeysWarning": ".dataset.audio_dataset",
    "ChangeEvent": ".dataset.history",
    "ABSTAIN": ".dataset.schema",
    "SUBSETS": ".dataset.schema",
    "Vectorizer": ".vectors.contract",
    "AudioVectorizer": ".vectors.contract",
    "CallableVectorizer": ".vectors.contract",
    "as_vectorizer": ".vectors.contract",
    "MFCCVectorizer": ".vectors.mfcc",
    "VectorCache": ".vectors.cache",
    "SimilarityIndex": ".maps.search",
    "LayoutReducer": ".maps.layout",
    "AudioModel": ".model.classifier",
    "fit": ".model.classifier",
    "compare": ".model.compare",
    "SourceError": ".audio.sources",
    "DecodeError": ".audio.decode",
    "simple_annotator": ".app.recipes",
    "linked_annotator": ".app.recipes",
    "active_learning": ".app.recipes",
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
