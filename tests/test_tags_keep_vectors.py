"""Writing tags into files keeps their cached vectors: the cache is keyed by a file's bytes,
which tags change, and the audio, which they do not (so nothing is vectorized again)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile

from . import audio_corpus as corpus
from .test_file_tags import FORMATS, RATE
from hover_audio import AudioDataset, MFCCVectorizer
from hover_audio.app.cli import main
from hover_audio.audio.file_tags import read_tags
from hover_audio.vectors.cache import VectorCache
from hover_audio.vectors.content import read_hashed
from hover_audio.vectors.jobs import cache_key
from hover_audio.vectors.rewritten import SameAudio

OLD, NEW, OTHER = "a" * 32, "b" * 32, "c" * 32


def vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(6).astype(np.float32)


def test_the_cache_carries_every_vector_of_a_content_but_those_with_a_note(tmp_path):
    first, second = VectorCache(tmp_path, "first/1"), VectorCache(tmp_path, "second/1")
    whole, part, noted = (cache_key(OLD, None, None, None), cache_key(OLD, 1.0, 2.0, None),
                          cache_key(OLD, None, None, 1))
    first.store([(whole, vec(1)), (part, vec(2)), (noted, vec(3))],
                notes=[(noted, "cut_short", "the header promised 2 s")])
    second.store([(whole, vec(4)), (cache_key(OTHER, None, None, None), vec(5))])
    memo = (str(tmp_path / "x.wav"), 10, 20, NEW)

    assert first.carry_over([(OLD, NEW)], [memo]) == 3
    moved = {key.replace(OLD, NEW) for key in (whole, part, noted)}
    got = first.get_many(sorted(moved))
    assert set(got) == moved - {noted.replace(OLD, NEW)}  # the noted one is made again
    assert np.array_equal(got[whole.replace(OLD, NEW)], vec(1))
    assert np.array_equal(got[part.replace(OLD, NEW)], vec(2))
    assert np.array_equal(second.get(whole.replace(OLD, NEW)), vec(4))  # every namespace
    assert len(second) == 3  # another content's vector stays where it was, alone
    assert np.array_equal(first.get(whole), vec(1))  # the old content keeps its vectors
    with first._connection() as con:
        assert con.execute("SELECT hash FROM file_digests WHERE path = ?",
                           (memo[0],)).fetchone() == (NEW,)
    assert first.carry_over([(OLD, NEW)]) == 0  # (already there)


def cached_vector(cache_dir, vectorizer, path):
    digest = read_hashed(str(path))[0]
    return VectorCache(cache_dir, vectorizer.fingerprint).get(cache_key(digest, None, None, None))


@pytest.mark.parametrize("suffix", list(FORMATS))
def test_tagged_files_keep_their_vectors_and_untag_too(tmp_path, suffix, capsys):
    library = tmp_path / "sfx"
    library.mkdir()
    paths = []
    for at, freq in enumerate((330, 550)):
        rate = 48000 if suffix == ".opus" else RATE
        paths.append(library / f"Track {at}{suffix}")
        soundfile.write(paths[-1], corpus.tone(freq, 1.0, rate), rate, **FORMATS[suffix])
    cache = tmp_path / "cache"
    vectorizer = MFCCVectorizer(cache_dir=cache)
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(p) for p in paths],
                                                "label": ["low", "high"], "SUBSET": ["train"] * 2}))
    ds.vectorize(vectorizer, workers=1, progress=False)
    ds.save(tmp_path / "ws")
    ds.close()
    before = {path: read_hashed(str(path))[0] for path in paths}

    assert main(["tag", str(tmp_path / "ws")]) == 0
    manifest = capsys.readouterr().out.split("untag ")[1].split("`")[0]
    assert read_tags(paths[0]) == {"low"}
    for path in paths:
        assert read_hashed(str(path))[0] != before[path]  # the bytes changed
        fresh = MFCCVectorizer(cache=False).transform([str(path)], progress=False)[0][0]
        kept = cached_vector(cache, vectorizer, path)
        assert kept is not None, f"{path.name}: its vector was not kept under its new content"
        np.testing.assert_array_equal(kept, fresh)  # the audio is the same: so is the vector

    assert main(["untag", manifest]) == 0
    for path in paths:
        assert read_tags(path) == set()
        kept = cached_vector(cache, vectorizer, path)
        assert kept is not None, f"{path.name}: its vector was not kept after untag"


def test_a_file_the_cache_never_hashed_or_no_cache_is_left_alone(tmp_path):
    path = tmp_path / "a.wav"
    soundfile.write(path, corpus.tone(440, 0.5, RATE), RATE)
    VectorCache(tmp_path / "cache", "x/1")  # a cache that never saw the file
    kept = SameAudio(tmp_path / "cache")
    kept.before(path)
    kept.after(path)
    assert kept.save() == 0
    off = SameAudio(tmp_path / "cache", enabled=False)
    off.before(path)
    off.after(path)
    assert off.save() == 0
    assert not (tmp_path / "nowhere").exists()
    assert SameAudio(tmp_path / "nowhere").save() == 0 and not (tmp_path / "nowhere").exists()


def test_audio_replaced_keeping_size_and_times_is_not_given_the_old_vector(tmp_path, capsys):
    """The cache's memo matches a file by size and times; audio replaced keeping both
    (``cp -p``) must not hand the old audio's vector to the tagged bytes."""
    import os

    path = tmp_path / "take.wav"
    soundfile.write(path, corpus.tone(330, 1.0, RATE), RATE, subtype="PCM_16")
    cache = tmp_path / "cache"
    vectorizer = MFCCVectorizer(cache_dir=cache)
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(path)], "label": ["low"],
                                                "SUBSET": ["train"]}))
    ds.vectorize(vectorizer, workers=1, progress=False)
    ds.save(tmp_path / "ws")
    ds.close()
    info = path.stat()
    soundfile.write(path, corpus.tone(2500, 1.0, RATE), RATE, subtype="PCM_16")  # same size
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size
    assert main(["tag", str(tmp_path / "ws"), "--even-if-changed"]) == 0
    fresh = MFCCVectorizer(cache=False).transform([str(path)], progress=False)[0][0]
    kept = cached_vector(cache, vectorizer, path)
    assert kept is None or np.allclose(kept, fresh, rtol=1e-5, atol=1e-6)
