"""The vectorizer contract: what every caller may ask of a vectorizer, written once.

A vectorizer turns clip keys (paths or URLs, with optional ``#t=`` ranges) into
float32 vectors of one length. Every caller (``AudioDataset.vectorize``, the
vector cache, ``compute_nd_embedding``, search by a new file, the model) uses
only what :class:`Vectorizer` promises:

- ``vectorizer(key) -> ndarray``: one key, hover's style; raises the clip's error;
- ``vectorizer.transform(keys, *, starts=None, ends=None, channels=None,
  workers=None, progress=True, client=None) -> (matrix, report)``: many keys,
  NaN rows and report rows (``row``, ``key``, ``kind``, ``message``) for failures;
- ``vectorizer.dim``: the length of every vector (None while unknown);
- ``vectorizer.get_params()``: the constructor's arguments, as in scikit-learn;
- ``vectorizer.fingerprint``: names the vectors it makes (class, ``version`` and
  every parameter but the cache settings); the cache keeps them under it;
- ``vectorizer.aspects()``: name -> per-dimension weights (None: all alike) that
  say what "similar" means (``overall``, and e.g. ``timbre``, ``shape``); search
  and maps apply them to the scaled vectors, so aspects need no second decode.

Write a vectorizer by subclassing :class:`AudioVectorizer` and implementing
``vector(samples, sr)`` and ``dim``: decoding, ranges, the cache, worker processes
and Dask come with it. Any other ``key -> vector`` callable (hover's
``vectorizer(url)``, a ``wrappy.memoize``-d function) is adapted by
:class:`CallableVectorizer`.

Examples
--------
>>> import numpy as np
>>> class Loudness(AudioVectorizer):
...     '''RMS level and peak of each clip.'''
...     def __init__(self, max_duration=600.0, cache_dir=None, cache=True):
...         self.max_duration, self.cache_dir, self.cache = max_duration, cache_dir, cache
...     @property
...     def dim(self):
...         return 2
...     def vector(self, samples, sr):
...         return np.array([np.sqrt(np.mean(samples**2)), np.abs(samples).max()], np.float32)
>>> Loudness().get_params()
{'max_duration': 600.0, 'cache_dir': None, 'cache': True}
>>> Loudness().fingerprint.startswith("Loudness/")
True
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..audio.sources import clip_id
from .jobs import clip_error, clip_keys, make_jobs

CACHE_SETTINGS = ("cache", "cache_dir")
DEFAULT_ASPECT = "overall"
_CLASSES: dict[str, type] = {}  # "module:QualName" -> every Vectorizer class defined so far


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


@functools.lru_cache(maxsize=None)
def _init_names(cls: type) -> tuple[str, ...]:
    """The named arguments of a class's constructor (read once: the fingerprint asks per
    chunk). A constructor that takes ``**params`` hands them to its parent's, whose
    named arguments then count too (after its own), as a subclass adding parameters
    to a vectorizer's does without restating them."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    names = [parameter.name for parameter in parameters if parameter.name != "self"
             and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)]
    if any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters):
        parent = next((base for base in cls.__mro__[1:] if "__init__" in vars(base)), object)
        if parent is not object:
            names += [name for name in _init_names(parent) if name not in names]
    return tuple(names)


class Vectorizer(ABC):
    """A clip key -> float32 vector transformer: the contract (see the module docs)."""

    version = 1  # raise it when the same parameters start to give other vectors

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _CLASSES[_class_path(cls)] = cls

    # ------------------------------------------------------------ contract
    @property
    @abstractmethod
    def dim(self) -> int | None:
        """The length of every vector (None while it is not known yet)."""

    @abstractmethod
    def transform(self, keys: Sequence[str], *, starts=None, ends=None, channels=None,
                  workers: int | None = None, progress: bool = True, client=None):
        """Vectors of many keys: ``(matrix, report)`` (see the module docs)."""

    def __call__(self, key: str) -> np.ndarray:
        """The vector of one key; raises the clip's error when it fails."""
        from .batch import failed_rows

        matrix, report = self.transform([key], workers=1, progress=False)
        failed = failed_rows(report)
        if len(failed):
            raise clip_error(failed["kind"].iloc[0], failed["message"].iloc[0])
        return matrix[0]

    # ------------------------------------------------------------ parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        return list(_init_names(cls))

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments and their values (scikit-learn's protocol).

        Each constructor argument must be stored under its own name.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def cache_params(self) -> dict:
        """The parameters that change the vectors: ``get_params()`` less the cache settings,
        plus ``version``, as JSON values (the cache namespace is made of them)."""
        params = {name: value for name, value in self.get_params().items()
                  if name not in CACHE_SETTINGS}
        return json.loads(json.dumps(dict(params, version=self.version), default=repr))

    @property
    def fingerprint(self) -> str:
        """A short stable name of this class and its :meth:`cache_params`."""
        blob = json.dumps(self.cache_params(), sort_keys=True).encode()
        return f"{type(self).__name__}/{hashlib.sha1(blob).hexdigest()[:16]}"

    def wraps(self, other) -> bool:
        """True when ``other`` is this vectorizer (or the callable it adapts)."""
        return other is self

    def aspects(self) -> dict[str, np.ndarray | None]:
        """What "similar" can mean for these vectors: name -> weights per dimension.

        Weights multiply the vectors once each dimension is on a common scale
        (None: every dimension alike). Every vectorizer has "overall".
        """
        return {DEFAULT_ASPECT: None}

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())
        return f"{type(self).__name__}({shown})"


class AudioVectorizer(Vectorizer):
    """A vectorizer that computes each vector from decoded samples.

    Subclasses implement :meth:`vector` and ``dim`` and store three settings the
    batch machinery reads: ``max_duration`` (seconds of each clip decoded at
    most), ``cache`` (keep vectors on disk) and ``cache_dir`` (where; None for
    ``$HOVER_AUDIO_CACHE`` or ``custom_cache/``). They get ``__call__`` and
    ``transform``: ranges, channels, URLs, the vector cache, all cores or Dask.
    Instances are sent to worker processes, so they must pickle.
    """

    max_duration: float | None = 600.0
    cache: bool = True
    cache_dir = None

    @abstractmethod
    def vector(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """The vector (float32, length ``dim``, finite) of mono ``samples`` at rate ``sr``."""

    def __call__(self, key: str) -> np.ndarray:
        """The vector of one clip key (path or URL, with optional ``#t=`` range), hover-style.

        Raises the clip's error (``SourceError`` or ``DecodeError``) if it fails.
        """
        from .jobs import vectorize_one

        return vectorize_one(self, key)

    def transform(self, keys: Sequence[str], *, starts=None, ends=None, channels=None,
                  workers: int | None = None, progress: bool = True, client=None):
        """Vectors of many keys: ``(matrix, report)``.

        ``matrix`` is float32 with one row per key, NaN where a key failed;
        ``report`` is a DataFrame (row, key, kind, message) of the failures and
        warnings. ``starts``/``ends``/``channels`` give per-key ranges and
        channels. Runs on all cores by default (``workers``) or on a Dask
        cluster (``client``: a ``distributed.Client`` or its address).
        """
        from .batch import vectorize_many

        return vectorize_many(self, keys, workers=workers, progress=progress, client=client,
                              starts=starts, ends=ends, channels=channels)


class CallableVectorizer(Vectorizer):
    """Any ``key -> vector`` callable as a :class:`Vectorizer` (run in this process).

    Parameters
    ----------
    function
        hover's ``vectorizer(url)``, a ``wrappy.memoize``-d function, a lambda.
        Its own caching (wrappy's pickle) is its business; the folder a
        ``wrappy.memoize(persist_path=...)`` writes to is created (hover's
        documented setup crashed without it).
    dim
        The vector length, when known; else it is learned from the first vector.
    """

    def __init__(self, function: Callable[[str], np.ndarray], dim: int | None = None):
        if not callable(function):
            raise TypeError(f"a vectorizer must be callable (key -> vector), got {function!r}")
        self.function = function
        self._dim = dim
        _ensure_persist_folder(function)

    def get_params(self, deep: bool = True) -> dict:
        return {"function": self.function, "dim": self._dim}

    @property
    def dim(self) -> int | None:
        return self._dim

    def wraps(self, other) -> bool:
        return other is self or other is self.function

    def __call__(self, key: str) -> np.ndarray:
        vector = np.asarray(self.function(key), dtype=np.float32).ravel()
        if not np.isfinite(vector).all():
            raise ValueError(f"{key}: the vectorizer returned NaN or inf")
        return vector

    def transform(self, keys: Sequence[str], *, starts=None, ends=None, channels=None,
                  workers: int | None = None, progress: bool = True, client=None):
        """Call the function on every key, one after another; failures become report rows.

        A plain callable sees keys only: ``starts``/``ends`` are written into the
        keys it is given (``path#t=START,END``); ``channels`` cannot be, and raise
        ValueError. ``workers`` and ``client`` are ignored.
        """
        from .batch import call_each, finish

        jobs = make_jobs(clip_keys(keys), starts, ends, channels)
        if any(job.channel is not None for job in jobs):
            raise ValueError("a callable vectorizer is given keys only, and a key cannot name "
                             "a channel; drop the channel column or write an AudioVectorizer")
        keys = [clip_id(job.key, job.start, job.end) for job in jobs]
        outcomes = call_each(self.function, make_jobs(keys), progress)
        matrix, report = finish(outcomes, keys, self._dim)
        if self._dim is None and matrix.shape[1]:
            self._dim = int(matrix.shape[1])
        return matrix, report


def as_vectorizer(vectorizer) -> Vectorizer:
    """``vectorizer`` as a :class:`Vectorizer`: itself, or a callable adapted.

    Raises
    ------
    TypeError
        For anything that is neither a Vectorizer nor callable.
    """
    if isinstance(vectorizer, Vectorizer):
        return vectorizer
    return CallableVectorizer(vectorizer)


def aspect_weights(vectorizer, aspect: str | None = None) -> np.ndarray | None:
    """The weights of ``aspect`` (default "overall") of ``vectorizer`` (None: all alike).

    Raises
    ------
    ValueError
        For an aspect the vectorizer does not offer, naming those it does.
    """
    aspect = aspect or DEFAULT_ASPECT
    offered = (vectorizer.aspects() if isinstance(vectorizer, Vectorizer)
               else {DEFAULT_ASPECT: None})  # none, or a plain callable: one way to be alike
    if aspect not in offered:
        raise ValueError(f"unknown aspect {aspect!r}; these vectors offer "
                         f"{', '.join(offered)}")
    weights = offered[aspect]
    return None if weights is None else np.asarray(weights, dtype=np.float32)


def describe(vectorizer) -> dict | None:
    """What a workspace remembers of a vectorizer, to rebuild it: its class and parameters.

    None for vectorizers that cannot be rebuilt from JSON (adapted callables,
    parameters that are not plain values).
    """
    if not isinstance(vectorizer, Vectorizer) or isinstance(vectorizer, CallableVectorizer):
        return None
    params = vectorizer.get_params()
    if params.get("cache_dir") is not None:
        params["cache_dir"] = str(params["cache_dir"])
    try:
        params = json.loads(json.dumps(params))
    except (TypeError, ValueError):
        return None
    return {"class": _class_path(type(vectorizer)), "version": vectorizer.version,
            "params": params}


def rebuild(description: dict | None) -> Vectorizer | None:
    """The vectorizer a :func:`describe` dict names, or None.

    None when its class is not defined in this process (import the module that
    defines it first), or its version changed. Descriptions written before
    classes were named by module (``"MFCCVectorizer"`` with ``cache``/``cache_dir``
    beside ``params``) are read too.
    """
    cls = _described_class(description)
    if cls is None or description.get("version") != cls.version:
        return None
    params = dict(description["params"])
    for setting in CACHE_SETTINGS:
        if setting in description:
            params[setting] = description[setting]
    try:
        return cls(**params)
    except (TypeError, ValueError):
        return None


def outdated(description: dict | None) -> type | None:
    """The class a :func:`describe` dict names when it was written by another version of
    that class (vectors of an older release: they can be made again, not reused), else None.

    Examples
    --------
    >>> from hover_audio.vectors.mfcc import MFCCVectorizer
    >>> old = dict(describe(MFCCVectorizer()), version=MFCCVectorizer.version - 1)
    >>> outdated(old).__name__, outdated(describe(MFCCVectorizer()))
    ('MFCCVectorizer', None)
    """
    cls = _described_class(description)
    return cls if cls is not None and description.get("version") != cls.version else None


def warn_outdated(cls: type | None) -> None:
    """Warn that vectors of a workspace being opened were made by an older ``cls`` (if any)."""
    if cls is None:
        return
    import warnings

    warnings.warn(f"the saved vectors were made by an older version of {cls.__name__}: "
                  "search by new files and aspects are off until vectorize() makes them "
                  "again (hover-audio serve does)", stacklevel=5)


def _described_class(description: dict | None) -> type | None:
    """The class of a :func:`describe` dict, if this process defines it (also by its bare
    name, as descriptions written before classes were named by module)."""
    if not description or not isinstance(description.get("params"), dict):
        return None
    name = description.get("class", "")
    return _CLASSES.get(name) or next(
        (known for path, known in _CLASSES.items() if path.rsplit(":", 1)[-1] == name), None)


def _ensure_persist_folder(function: Callable) -> None:
    """Create the folder a ``wrappy.memoize(persist_path=...)`` callable writes to.

    wrappy writes its pickle every ``persist_batch_size`` calls and raises when
    the folder is missing.
    """
    try:
        persist_path = inspect.getclosurevars(function).nonlocals.get("persist_path")
    except (TypeError, ValueError):
        return
    if isinstance(persist_path, str) and persist_path:
        Path(persist_path).absolute().parent.mkdir(parents=True, exist_ok=True)
