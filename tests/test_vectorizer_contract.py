"""The vectorizer contract: user-defined vectorizers work everywhere ours do.

A class written only against the documented contract (``AudioVectorizer``:
``vector(samples, sr)``, ``dim``, its settings) is used by ``ds.vectorize``, the
vector cache, worker processes, ``compute_nd_embedding``, search by a new file,
and a workspace that rebuilds it on load. A class implementing ``Vectorizer``
directly (its own ``transform``) works too, and plain callables are adapted.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile

from hover_audio import (AudioDataset, AudioVectorizer, CallableVectorizer, MFCCVectorizer,
                         Vectorizer, as_vectorizer)
from hover_audio.audio.sources import SourceError
from hover_audio.vectors.cache import VectorCache
from hover_audio.vectors.contract import describe, rebuild

SR = 16000


class BandEnergy(AudioVectorizer):
    """Log energy in a few frequency bands: a user's vectorizer, written to the contract."""

    computed = 0  # clips really computed in this process

    def __init__(self, bands: int = 4, max_duration: float = 600.0, cache_dir=None,
                 cache: bool = True):
        self.bands, self.max_duration, self.cache_dir, self.cache = bands, max_duration, \
            cache_dir, cache

    @property
    def dim(self) -> int:
        return self.bands

    def vector(self, samples, sr):
        type(self).computed += 1
        power = np.abs(np.fft.rfft(samples)) ** 2
        parts = np.array_split(power, self.bands)
        return np.log10(np.array([part.sum() for part in parts]) + 1e-9).astype(np.float32)


class RowIndexVectorizer(Vectorizer):
    """Implements the contract's ``transform`` itself (no audio at all)."""

    def __init__(self, width: int = 3):
        self.width = width

    @property
    def dim(self) -> int:
        return self.width

    def transform(self, keys, *, starts=None, ends=None, channels=None, workers=None,
                  progress=True, client=None):
        matrix = np.array([[len(key)] * self.width for key in keys], dtype=np.float32)
        return matrix, pd.DataFrame(columns=["row", "key", "kind", "message"])


def tone(freq: float, seconds: float = 0.4) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def clips(tmp_path):
    """24 real WAV files, low and high tones, labeled by pitch."""
    rows = []
    for i in range(24):
        freq = (220 + 11 * i if i % 2 else 3000 + 37 * i)  # every file different
        path = tmp_path / "clips" / f"clip {i:02d}.wav"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(str(path), tone(freq), SR)
        rows.append({"audio": str(path), "label": "low" if i % 2 else "high",
                     "SUBSET": "train" if i < 16 else "raw"})
    table = pd.DataFrame(rows)
    table.loc[table["SUBSET"] == "raw", "label"] = "ABSTAIN"
    return table


def test_a_user_vectorizer_has_the_contracts_members(tmp_path):
    vectorizer = BandEnergy(bands=6, cache_dir=tmp_path / "cache")
    assert isinstance(vectorizer, Vectorizer)
    assert vectorizer.get_params() == {"bands": 6, "max_duration": 600.0,
                                       "cache_dir": tmp_path / "cache", "cache": True}
    assert vectorizer.dim == 6
    # the cache namespace: class and parameters, not where the cache lives
    assert vectorizer.fingerprint.startswith("BandEnergy/")
    assert vectorizer.fingerprint == BandEnergy(bands=6, cache=False).fingerprint
    assert vectorizer.fingerprint != BandEnergy(bands=5).fingerprint
    assert repr(vectorizer).startswith("BandEnergy(bands=6, ")
    assert as_vectorizer(vectorizer) is vectorizer


def test_a_user_vectorizer_works_with_the_dataset_the_cache_and_workers(tmp_path, clips):
    cache_dir = tmp_path / "cache"
    ds = AudioDataset.from_pandas(clips)
    BandEnergy.computed = 0
    report = ds.vectorize(BandEnergy(cache_dir=cache_dir), workers=1, progress=False)
    assert report.empty and ds.vectors.shape == (24, 4) and np.isfinite(ds.vectors).all()
    assert BandEnergy.computed == 24
    assert len(VectorCache(cache_dir, namespace=BandEnergy().fingerprint)) == 24
    # a second run is answered by the cache: nothing is computed again
    again = AudioDataset.from_pandas(clips)
    BandEnergy.computed = 0
    again.vectorize(BandEnergy(cache_dir=cache_dir), workers=1, progress=False)
    assert BandEnergy.computed == 0
    np.testing.assert_array_equal(again.vectors, ds.vectors)
    # worker processes run the same class (it pickles), with no cache at all
    fresh = AudioDataset.from_pandas(clips)
    fresh.vectorize(BandEnergy(cache=False), workers=2, progress=False)
    np.testing.assert_allclose(fresh.vectors, ds.vectors, rtol=1e-6)


def test_a_user_vectorizer_maps_searches_and_survives_a_reload(tmp_path, clips):
    ds = AudioDataset.from_pandas(clips)
    ds.save(tmp_path / "ws")
    vectorizer = BandEnergy(cache_dir=tmp_path / "cache")
    reducer = ds.compute_nd_embedding(vectorizer, method="pca", dimension=2)
    assert reducer.coords.shape == (24, 2) and np.isfinite(reducer.coords).all()
    assert ds.vectorizer is vectorizer
    # asking again with the same vectorizer reuses the vectors
    before = BandEnergy.computed
    ds.compute_nd_embedding(vectorizer, method="pca", dimension=2)
    assert BandEnergy.computed == before
    # search by a new file goes through the same vectorizer
    query = tmp_path / "query.wav"
    soundfile.write(str(query), tone(3000), SR)
    best = ds.similarity_index().top_k(str(query), k=5)
    numbers = [int(key.rsplit(" ", 1)[1][:2]) for key in np.asarray(ds.keys)[best]]
    assert len(best) == 5 and all(number % 2 == 0 for number in numbers)  # the high tones
    ds.close()
    # the workspace remembers the class and its parameters and rebuilds it
    loaded = AudioDataset.load(tmp_path / "ws")
    assert type(loaded.vectorizer) is BandEnergy
    assert loaded.vectorizer.get_params() == dict(vectorizer.get_params(),
                                                  cache_dir=str(tmp_path / "cache"))
    np.testing.assert_array_equal(loaded.similarity_index().top_k(str(query), k=5), best)
    loaded.close()


def test_a_vectorizer_with_its_own_transform_is_used_as_it_is(clips):
    ds = AudioDataset.from_pandas(clips)
    report = ds.vectorize(RowIndexVectorizer(width=2), progress=False)
    assert report.empty
    assert ds.vectors[:, 0].tolist() == [float(len(key)) for key in ds.keys]
    assert ds.compute_nd_embedding(method="pca", dimension=2).coords.shape == (24, 2)


def test_describe_and_rebuild_only_what_can_be_rebuilt(tmp_path):
    assert rebuild(describe(MFCCVectorizer(n_mfcc=20))).get_params() == \
        MFCCVectorizer(n_mfcc=20).get_params()
    # a workspace written before classes were named by module
    old = {"class": "MFCCVectorizer", "version": MFCCVectorizer.version,
           "params": {"n_mfcc": 13, "fmax": 11025.0}, "cache_dir": None, "cache": False}
    rebuilt = rebuild(old)
    assert isinstance(rebuilt, MFCCVectorizer) and rebuilt.cache is False
    assert rebuild(dict(old, version=MFCCVectorizer.version - 1)) is None  # other vectors
    assert rebuild({"class": "nowhere:Gone", "version": 1, "params": {}}) is None
    assert describe(CallableVectorizer(lambda key: np.zeros(2))) is None
    assert describe(BandEnergy(cache_dir=tmp_path))["class"].endswith(":BandEnergy")


def test_callables_are_adapted_and_see_ranges_in_their_keys(clips):
    seen = []

    def by_key(key):
        seen.append(key)
        return np.array([len(key), 1.0])

    table = clips.head(3).assign(start=[0.0, 0.1, None], end=[0.2, 0.3, None])
    ds = AudioDataset.from_pandas(table)
    report = ds.vectorize(by_key, progress=False)
    assert report.empty
    assert seen == ds.keys  # ranges from the start/end columns are in the keys
    assert seen[0].endswith("#t=0,0.2") and "#t=" not in seen[2]
    adapter = ds.vectorizer
    assert isinstance(adapter, CallableVectorizer) and adapter.wraps(by_key)
    assert adapter.dim == 2
    # a key cannot name a channel: refused with a clear message, not silently ignored
    with pytest.raises(ValueError, match="channel"):
        adapter.transform(["a.wav"], channels=[1])
    with pytest.raises(TypeError, match="callable"):
        as_vectorizer("not a vectorizer")


def test_calling_a_vectorizer_raises_the_clips_error(tmp_path):
    with pytest.raises(SourceError) as error:
        BandEnergy(cache=False)(str(tmp_path / "missing.wav"))
    assert error.value.kind == "not_found" and "missing.wav" in str(error.value)
    with pytest.raises(SourceError):  # the contract's generic __call__ (through transform) too
        Vectorizer.__call__(BandEnergy(cache=False), str(tmp_path / "x.wav"))


def test_a_plain_callable_for_queries_has_the_overall_aspect(clips):
    ds = AudioDataset.from_pandas(clips)
    ds.vectorize(BandEnergy(cache=False), workers=1, progress=False)
    index = ds.similarity_index(vectorizer=lambda key: np.ones(4, np.float32))
    assert len(index.top_k(0, 3)) == 3
    with pytest.raises(ValueError, match="offer overall"):
        ds.similarity_index(vectorizer=lambda key: np.ones(4, np.float32), aspect="timbre")


class ScaledBands(BandEnergy):
    """A subclass adding one parameter and handing the others on with ``**params``."""

    def __init__(self, scale: float = 2.0, **params):
        super().__init__(**params)
        self.scale = scale

    def vector(self, samples, sr):
        return self.scale * super().vector(samples, sr)


def test_parameters_handed_on_to_the_parent_count_as_the_subclass_own():
    """get_params, the fingerprint and rebuilding see the parent's parameters too."""
    vectorizer = ScaledBands(scale=3.0, bands=6)
    assert vectorizer.get_params() == {"scale": 3.0, "bands": 6, "max_duration": 600.0,
                                       "cache_dir": None, "cache": True}
    assert vectorizer.fingerprint != ScaledBands(scale=3.0, bands=5).fingerprint
    assert vectorizer.fingerprint != ScaledBands(scale=2.0, bands=6).fingerprint
    assert rebuild(describe(vectorizer)).get_params() == vectorizer.get_params()
