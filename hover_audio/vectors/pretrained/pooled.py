"""What the pretrained embedders share: a model scores windows of a clip, and the clip's
vector pools the windows (mean, std, max), with the model file in the cache key."""
from __future__ import annotations

from importlib import metadata
from typing import Sequence

import numpy as np

from ..contract import AudioVectorizer

POOLING = {"mean": np.mean, "std": np.std, "max": np.max}


class PooledWindows(AudioVectorizer):
    """Base of the pretrained embedders: subclasses set ``POOLS``, ``WIDTH`` (values per
    window), ``PACKAGE`` and ``MODEL`` (the wheel and the file holding the weights), and
    implement :meth:`windows`.

    Parameters
    ----------
    stats
        How the windows are pooled: a non-empty subset of ``POOLS``.
    max_duration, cache_dir, cache
        As for every :class:`~hover_audio.vectors.contract.AudioVectorizer`.
    """

    POOLS: tuple = ("mean", "std", "max")
    WIDTH = 0
    PACKAGE = ""
    MODEL = ""

    def __init__(self, stats: Sequence[str] = ("mean", "std"), max_duration: float = 600.0,
                 cache_dir=None, cache: bool = True):
        if not stats or any(name not in self.POOLS for name in stats):
            raise ValueError(f"stats must be a non-empty subset of {self.POOLS}, "
                             f"got {tuple(stats)}")
        self.stats, self.max_duration = tuple(stats), max_duration
        self.cache_dir, self.cache = cache_dir, cache

    @property
    def dim(self) -> int:
        return self.WIDTH * len(self.stats)

    def cache_params(self) -> dict:
        """The parameters, plus the model file and its package's version: another model
        (or another release of it) makes other vectors."""
        try:
            package = f"{self.PACKAGE}-{metadata.version(self.PACKAGE)}"
        except metadata.PackageNotFoundError:
            package = f"{self.PACKAGE}-missing"
        return dict(super().cache_params(), model=f"{package}/{self.MODEL}")

    def windows(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """The model's output per window of the clip: ``(windows, WIDTH)``."""
        raise NotImplementedError

    def vector(self, samples: np.ndarray, sr: int) -> np.ndarray:
        frames = self.windows(samples, sr)
        pooled = np.concatenate([POOLING[name](frames, axis=0) for name in self.stats])
        return np.nan_to_num(pooled).astype(np.float32)
