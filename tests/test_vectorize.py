"""MFCCVectorizer, the batch pipeline, its cache, parallel runs and failure reports."""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from hover_audio import AudioDataset
from hover_audio.vectors.cache import VectorCache
from hover_audio.vectors import jobs
from hover_audio.vectors.jobs import FLUSH_SECONDS
from hover_audio.audio.decode import DecodeError
from hover_audio.vectors.mfcc import MFCCVectorizer
from hover_audio.maps.scaling import Scaler, unit_rows
from hover_audio.audio.sources import SourceError

SR = 16000


def tone(freq: float, seconds: float, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path, samples, sr=SR, subtype="FLOAT"):
    soundfile.write(str(path), samples, sr, subtype=subtype)
    return str(path)


@pytest.fixture
def vectorizer(tmp_path):
    return MFCCVectorizer(n_mfcc=13, cache_dir=tmp_path / "cache")


@pytest.fixture
def messy_folder(tmp_path):
    """30 good clips of 3 pitches, plus broken ones, as (paths, broken names)."""
    folder = tmp_path / "clips"
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(30):
        freq = (300, 900, 2500)[i % 3]
        noise = rng.normal(0, 0.01, int(0.5 * SR)).astype(np.float32)
        paths.append(write(folder / f"good {i:02d}.wav", tone(freq, 0.5) + noise))
    (folder / "empty.wav").write_bytes(b"")
    (folder / "garbage.wav").write_bytes(rng.bytes(5000))
    good = (folder / "good 00.wav").read_bytes()
    (folder / "truncated.wav").write_bytes(good[:30])
    (folder / "notes.mp3").write_text("this is not audio")
    broken = ["empty.wav", "garbage.wav", "truncated.wav", "notes.mp3", "missing.wav"]
    return paths + [str(folder / name) for name in broken], broken


@pytest.mark.parametrize(
    "samples",
    [
        np.zeros(SR, dtype=np.float32),                       # digital silence
        tone(440, 0.02),                                       # shorter than a frame
        np.zeros(1, dtype=np.float32),                         # one sample
        tone(440, 1.0) + 0.7,                                  # DC offset
        np.clip(tone(440, 1.0, amplitude=4.0), -1, 1),         # hard clipping
        np.full(SR, 1e-30, dtype=np.float32),                  # denormal-level noise floor
    ],
    ids=["silence", "20ms", "1sample", "dc", "clipped", "tiny"],
)
def test_vectors_are_always_finite(vectorizer, samples):
    vector = vectorizer.vector(samples, SR)
    assert vector.shape == (vectorizer.dim,) and vector.dtype == np.float32
    assert np.isfinite(vector).all()


def test_dc_offset_does_not_change_the_vector(vectorizer):
    clean = vectorizer.vector(tone(440, 1.0), SR)
    shifted = vectorizer.vector(tone(440, 1.0) + 0.3, SR)
    np.testing.assert_allclose(clean, shifted, rtol=1e-3, atol=0.05)


def test_same_sound_at_other_rates_gives_a_similar_vector(vectorizer):
    def cosine(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    reference = vectorizer.vector(tone(700, 1.0, 16000), 16000)
    for rate in (22050, 44100, 96000):
        assert cosine(reference, vectorizer.vector(tone(700, 1.0, rate), rate)) > 0.98, rate
    other = vectorizer.vector(tone(3000, 1.0, 16000), 16000)
    assert cosine(reference, other) < cosine(reference, vectorizer.vector(tone(700, 1.0, 44100), 44100))


def warped_reference(frames: np.ndarray, segments: int, spread: float) -> np.ndarray:
    """warped_shape by its definition, in float64: frames placed by how far the sound has
    moved (running sum of absolute changes), Gaussian-weighted means around the middles
    of equal parts of that, less the mean of all frames."""
    exact = frames.astype(np.float64)
    moved = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(exact, axis=0)).sum(axis=1))])
    where = moved / moved[-1]
    centres = (np.arange(segments) + 0.5) / segments
    weights = np.exp(-0.5 * ((where[None, :] - centres[:, None]) * segments / spread) ** 2)
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights @ exact - exact.mean(axis=0)).ravel()


@pytest.mark.parametrize("count", [8, 9, 15, 67, 3000])
def test_pooled_statistics_match_their_definitions(count):
    from hover_audio.vectors.features import frame_stats, warped_shape

    rng = np.random.default_rng(count)
    frames = (rng.normal(0, 20, (count, 5)) - 300).astype(np.float32)  # MFCC-like levels
    weights = rng.uniform(0, 1, count).astype(np.float32)
    exact = frames.astype(np.float64)
    for spread in (0.5, 0.2):
        np.testing.assert_allclose(warped_shape(frames, 8, spread=spread),
                                   warped_reference(frames, 8, spread), atol=2e-3)
    w = weights / weights.sum()
    mean = w @ exact
    kept = exact[weights >= 0.5 * weights.max()]
    later = weights[1:] / weights[1:].sum()
    expected = [mean, np.sqrt(w @ (exact - mean) ** 2), kept.min(axis=0), kept.max(axis=0),
                later @ np.abs(np.diff(exact, axis=0))]
    got = frame_stats(frames, ("mean", "std", "min", "max", "delta"), weights)
    for mine, reference in zip(got, expected):
        np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-3)
    plain = frame_stats(frames, ("mean", "std", "delta"))
    for mine, reference in zip(plain, [exact.mean(axis=0), exact.std(axis=0),
                                       np.abs(np.diff(exact, axis=0)).mean(axis=0)]):
        np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-3)


def test_shape_follows_the_sound_not_the_clock():
    """The same gesture made at another pace (one part held longer, another rushed) keeps
    its warped shape, while the shape by clock time (equal parts of the frames) moves;
    a sound that never changes has no shape, and one frame too few gives zeros."""
    from hover_audio.vectors.features import warped_shape

    def paced(frames, rates):  # replay each of 4 quarters at its own number of frames
        quarters = np.array_split(np.arange(len(frames)), 4)
        parts = [np.stack([np.interp(np.linspace(q[0], q[-1] + 1, n, endpoint=False),
                                     np.arange(len(frames) + 1),
                                     np.append(frames[:, c], frames[-1, c]))
                           for c in range(frames.shape[1])], axis=1)
                 for q, n in zip(quarters, rates)]
        return np.concatenate(parts).astype(np.float32)

    def by_clock(frames, segments=8):
        return np.concatenate([part.mean(axis=0) - frames.mean(axis=0)
                               for part in np.array_split(frames.astype(np.float64), segments)])

    ratios = []
    for seed in range(30):  # 30 random gestures, each replayed at a random uneven pace
        rng = np.random.default_rng(seed)
        path = np.cumsum(rng.normal(0, 3, (40, 6)), axis=0).astype(np.float32)
        even, uneven = paced(path, [40, 40, 40, 40]), paced(path, rng.permutation([100, 20, 20, 60]))
        ratios.append(np.linalg.norm(warped_shape(even, 8) - warped_shape(uneven, 8))
                      / np.linalg.norm(by_clock(even) - by_clock(uneven)))
    assert max(ratios) < 0.9 and np.median(ratios) < 0.6, np.round(sorted(ratios), 2)
    np.testing.assert_allclose(warped_shape(np.full((50, 6), -40.0, np.float32), 8), 0,
                               atol=1e-4)  # (float32 rounding of the mean)
    short = warped_shape(np.cumsum(np.ones((7, 6), np.float32), axis=0), 8)
    assert short.shape == (48,) and not np.any(short)


def test_envelope_measures_attack_decay_and_length():
    """Blocks of 5 ms: a 50 ms silence, a 40 ms linear rise, a 100 ms hold, then a
    fall of 1 dB per ms: every figure is known to within a block."""
    from hover_audio.vectors.features import ENVELOPE_DIM, envelope

    sr, ms = 8000, 8
    level_db = np.concatenate([np.full(50, -200.0), np.linspace(-39, 0, 40), np.zeros(100),
                               -np.arange(1, 200, dtype=float)])  # one value per ms
    gain = np.repeat(10 ** (level_db / 20), ms)
    noise = np.random.default_rng(1).choice([-1.0, 1.0], size=len(gain))  # flat power
    found = envelope((gain * noise).astype(np.float32), sr)
    assert found.shape == (ENVELOPE_DIM,) == (3,) and found.dtype == np.float32
    seconds = 10 ** (found / 10)
    # within 40 dB of the peak: the rise and the hold and 40 ms of the fall
    assert seconds[0] == pytest.approx(0.040, abs=0.006)  # attack: to the first peak block
    assert seconds[1] == pytest.approx(0.100 + 0.020, abs=0.006)  # then 20 dB down
    assert seconds[2] == pytest.approx(0.040 + 0.100 + 0.040, abs=0.006)  # length
    # the same sound louder, or at another rate, has the same envelope
    np.testing.assert_allclose(envelope((0.1 * gain * noise).astype(np.float32), sr), found,
                               atol=1e-4)
    doubled = envelope(np.repeat(gain * noise, 2).astype(np.float32), 2 * sr)
    np.testing.assert_allclose(doubled, found, atol=0.5)
    assert not envelope(np.ones(30, np.float32), sr).any()  # fewer than two blocks: zeros
    silence = 10 ** (envelope(np.zeros(sr, np.float32), sr) / 10)  # held from start to end
    np.testing.assert_allclose(silence, [0.005, 1.0025, 1.0], rtol=1e-4)


def test_the_envelope_tells_a_hit_from_a_swell_of_the_same_sound():
    """The same noise, struck (fast decay) or swelling (slow rise): the envelope block
    tells them apart far more than the timbre statistics do."""
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 0.3, SR).astype(np.float32)
    t = np.arange(SR) / SR
    hit, swell = noise * np.exp(-t / 0.03), noise * np.minimum(t / 0.5, 1.0)
    a, b = (MFCCVectorizer().vector(x.astype(np.float32), SR) for x in (hit, swell))
    attack_gap = abs(a[150] - b[150])  # dB of seconds: 5 ms against 500 ms, ~20 apart
    assert attack_gap > 15
    assert cosine(a[1:30], b[1:30]) > 0.98  # their active spectra: the same noise


def test_dim_follows_parameters():
    assert MFCCVectorizer(n_mfcc=20, stats=("mean",), whole_stats=(), segments=1,
                          envelope=False).dim == 20
    assert MFCCVectorizer(n_mfcc=20, stats=("mean", "std", "max"), whole_stats=(),
                          segments=3, shape_mfcc=10).dim == 93
    # the default: 30 coefficients x (2 active + 3 whole-clip statistics), 3 of the
    # envelope, 12 x 12 shape
    assert MFCCVectorizer().dim == 30 * 5 + 3 + 12 * 12 == 297
    for samples in (tone(300, 1.0), np.zeros(10, dtype=np.float32)):
        vector = MFCCVectorizer(n_mfcc=20, segments=3).vector(samples, SR)
        assert vector.shape == (20 * 5 + 3 + 3 * 12,) and np.isfinite(vector).all()
    with pytest.raises(ValueError, match="stats"):
        MFCCVectorizer(stats=("median",))
    with pytest.raises(ValueError, match="n_mfcc"):
        MFCCVectorizer(n_mfcc=80, n_mels=40)


@pytest.mark.parametrize("sr", [8000, 11025, 16000, 44100, 96000])
@pytest.mark.parametrize("n_mels, fmin, fmax", [(64, 20.0, 11025.0), (20, 300.0, 3000.0),
                                                (128, 0.0, 48000.0), (1, 100.0, 200.0),
                                                (16, 6000.0, 9000.0)])
def test_the_banded_filterbank_gives_the_full_product(sr, n_mels, fmin, fmax):
    """The mel bands are summed as two products over the bins each half of the bands
    takes: the same band powers as the product with the whole filterbank, and exact
    zeros in bands no bin reaches (above a low rate's Nyquist frequency)."""
    from hover_audio.vectors.features import Banded, mel_filterbank

    n_fft = int(round(0.025 * sr))
    bank = mel_filterbank(sr, n_fft, n_mels, fmin, fmax).T
    power = np.random.default_rng(sr).random((37, bank.shape[0]), dtype=np.float32) ** 4
    banded = Banded(bank).product(power)
    full = power @ bank
    assert banded.shape == full.shape and banded.dtype == np.float32
    np.testing.assert_allclose(banded, full, rtol=2e-5, atol=1e-12)
    empty = ~bank.any(axis=0)
    assert (banded[:, empty] == 0).all()
    if sr == 8000 and fmax > 4000:
        assert empty.any()  # (the case is met)


def test_chunks_shrink_towards_the_end_and_keep_every_job_in_order():
    from hover_audio.vectors.runners import chunks

    for count, workers in itertools.product((1, 3, 7, 40, 63, 64, 200, 1000, 5003),
                                            (1, 2, 3, 8, 32)):
        parts = chunks(list(range(count)), workers)
        assert [job for part in parts for job in part] == list(range(count))
        sizes = [len(part) for part in parts]
        assert all(1 <= size <= 64 for size in sizes)
        assert sizes == sorted(sizes, reverse=True)  # the smallest last: workers end together
        least = max(1, min(4, count // (workers * 2)))  # (not sent one job at a time,
        assert all(size >= least for size in sizes[:-1])  # but each worker gets some)
        assert len(parts) >= min(workers, count)
        if count >= 8:  # the last two, the ones a worker may finish alone: 4 jobs at most
            assert max(sizes[-2:]) <= 4


def test_aspects_weigh_the_timbre_envelope_and_shape_blocks():
    vectorizer = MFCCVectorizer()
    aspects = vectorizer.aspects()
    assert list(aspects) == ["overall", "timbre", "shape"]
    timbre, loudness, shape = slice(0, 150), slice(150, 153), slice(153, 297)
    for name, share, rises in (("overall", 0.09, 0.03), ("timbre", 0.0, 0.03),
                               ("shape", 0.85, 0.0)):
        weights = aspects[name]
        assert weights.shape == (297,) and (weights >= 0).all()
        # each block's share of the squared length of a vector of ones
        assert np.sum(weights[shape] ** 2) == pytest.approx(share, abs=1e-6)
        assert np.sum(weights[loudness] ** 2) == pytest.approx(rises, abs=1e-6)
        assert np.sum(weights[timbre] ** 2) == pytest.approx(1 - share - rises, abs=1e-6)
    without = MFCCVectorizer(envelope=False).aspects()["overall"]
    assert without.shape == (294,) and np.sum(without[150:] ** 2) == pytest.approx(0.09)
    assert MFCCVectorizer(segments=1).aspects() == {"overall": None}  # no shape block


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_timbre_ignores_when_the_sound_happens_and_shape_does_not():
    """A tone then silence, and silence then the same tone: the same timbre, other shapes."""
    early = np.concatenate([tone(600, 0.3), np.zeros(int(0.3 * SR), np.float32)])
    early += np.random.default_rng(0).normal(0, 1e-4, len(early)).astype(np.float32)
    late = early[::-1].copy()
    t = np.arange(int(0.4 * SR)) / SR
    glide = (0.5 * np.sin(2 * np.pi * (300 * t + 1500 * t**2))).astype(np.float32)  # 300->1500 Hz
    vectorizer = MFCCVectorizer()
    a, b, c = (vectorizer.vector(x, SR) for x in (early, late, glide))
    timbre, shape = slice(0, 60), slice(153, 297)  # the activity-weighted statistics
    assert cosine(a[timbre], b[timbre]) > 0.99
    d = vectorizer.vector(glide[::-1].copy(), SR)
    # a rising glide and a falling one: alike in timbre, unlike in shape (opposed, less
    # than mirror images: the bands the tone leaves empty sit on the floor in both)
    assert cosine(c[timbre], d[timbre]) > 0.95
    assert cosine(c[shape], d[shape]) < -0.2


def test_the_shape_of_a_word_does_not_depend_on_the_noise_under_it():
    """One 'word' (a rising then a falling glide, a pause either side) under pink noise
    at 20, 25, 40 and 60 dB SNR: its shape blocks agree across noise levels with the
    floor (the default) and do not as recorded (``shape_floor_db=None``), where the
    noise draws the quiet bands. The timbre block is left as recorded."""
    t = np.arange(int(0.3 * SR)) / SR
    up = np.sin(2 * np.pi * np.cumsum(np.linspace(300, 1500, t.size)) / SR)
    down = np.sin(2 * np.pi * np.cumsum(np.linspace(1500, 600, t.size)) / SR) * np.hanning(t.size)
    pause = np.zeros(int(0.2 * SR))
    word = np.concatenate([pause, up, down, pause])
    level = np.sqrt(np.mean(np.concatenate([up, down]) ** 2))

    def under_noise(snr_db, seed):
        spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(word.size))
        spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))  # 1/f power: pink
        noise = np.fft.irfft(spectrum, word.size)
        noise *= level * 10 ** (-snr_db / 20) / noise.std()
        return (word + noise).astype(np.float32)

    floored, recorded = MFCCVectorizer(), MFCCVectorizer(shape_floor_db=None)
    shape, timbre = slice(153, 297), slice(0, 150)
    for quiet, loud in ((25, 40), (20, 60)):
        a, b = under_noise(quiet, 1), under_noise(loud, 2)
        assert cosine(floored.vector(a, SR)[shape], floored.vector(b, SR)[shape]) > 0.75
        assert cosine(recorded.vector(a, SR)[shape], recorded.vector(b, SR)[shape]) < 0.5
        np.testing.assert_array_equal(floored.vector(a, SR)[timbre], recorded.vector(a, SR)[timbre])


def test_the_noise_floor_of_a_long_file_comes_from_a_sample_of_its_frames():
    """An hour of frames (360,000) gets the floor its full quantile gives, within 1 dB
    (of a floor 8 dB above the noise; the sample of ~1,000 frames is off by ~0.3 dB)."""
    from hover_audio.vectors.features import above_noise

    rng = np.random.default_rng(0)
    levels = rng.normal(-60.0, 5.0, (360_000, 4)).astype(np.float32)
    levels[::7] += 40.0  # the sound, in a seventh of the frames
    floor = above_noise(levels, 8.0, range_db=200.0).min(axis=0)
    exact = np.quantile(levels, 0.1, axis=0) + 8.0
    np.testing.assert_allclose(floor, exact, atol=1.0)


def test_fingerprint_changes_with_every_parameter_that_matters():
    base = MFCCVectorizer()
    assert base.fingerprint == MFCCVectorizer().fingerprint
    for change in ({"n_mfcc": 20}, {"sr": 16000}, {"stats": ("mean",)}, {"segments": 2},
                   {"whole_stats": ("mean",)}, {"shape_mfcc": 6}, {"trim_db": 30.0},
                   {"hop": 0.02}, {"max_duration": 5.0}, {"trim_db": None},
                   {"envelope": False}, {"shape_floor_db": None}, {"shape_floor_db": 3.0}):
        assert MFCCVectorizer(**change).fingerprint != base.fingerprint, change
    assert MFCCVectorizer(cache_dir="/elsewhere").fingerprint == base.fingerprint


def test_call_on_a_key_hover_style(vectorizer, tmp_path):
    path = write(tmp_path / "a.wav", tone(500, 0.5))
    vector = vectorizer(path)
    np.testing.assert_allclose(vector, vectorizer.vector(tone(500, 0.5), SR), rtol=1e-5)
    with pytest.raises(SourceError) as missing:
        vectorizer(str(tmp_path / "absent.wav"))
    assert missing.value.kind == "not_found"
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(DecodeError, match="bad.wav"):
        vectorizer(str(tmp_path / "bad.wav"))


def test_a_directory_or_a_pipe_in_a_batch_is_reported_not_read(tmp_path):
    """Keys naming a folder or a named pipe (reading one would wait forever) are
    reported as not found, beside clips that vectorize; the batch never hangs."""
    good = [write(tmp_path / f"{i}.wav", tone(200 + 50 * i, 0.3)) for i in range(4)]
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    pipe = tmp_path / "pipe.wav"
    os.mkfifo(pipe)
    keys = [str(path) for path in good[:2]] + [str(folder), str(pipe)] + [
        str(path) for path in good[2:]]
    matrix, report = MFCCVectorizer(cache_dir=tmp_path / "cache").transform(
        keys, workers=1, progress=False)
    assert np.isfinite(matrix[[0, 1, 4, 5]]).all() and np.isnan(matrix[[2, 3]]).all()
    assert report[["row", "kind"]].values.tolist() == [[2, "not_found"], [3, "not_found"]]
    assert "is a directory" in report["message"][0] and "pipe.wav" in report["message"][1]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batch_with_broken_files_completes_with_a_report(vectorizer, messy_folder, workers):
    keys, broken = messy_folder
    matrix, report = vectorizer.transform(keys, workers=workers, progress=False)
    assert matrix.shape == (len(keys), vectorizer.dim) and matrix.dtype == np.float32
    good_rows = np.isfinite(matrix).all(axis=1)
    assert good_rows[:30].all()
    assert not good_rows[30:].any() and np.isnan(matrix[30:]).all()
    assert sorted(report["row"]) == list(range(30, 35))
    by_name = {os.path.basename(k): kind for k, kind in zip(report["key"], report["kind"])}
    assert by_name["empty.wav"] == "empty"
    assert by_name["missing.wav"] == "not_found"
    assert by_name["garbage.wav"] == by_name["notes.mp3"] == "decode"
    for key, message in zip(report["key"], report["message"]):
        assert os.path.basename(key) in message
    # the three pitches are told apart: nearest neighbours share the pitch
    good = matrix[:30]
    unit = unit_rows(Scaler.fit(good).transform(good))
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.argmax(axis=1)
    assert (nearest % 3 == np.arange(30) % 3).all()


def test_reports_have_the_same_column_types_with_or_without_failures(vectorizer, tmp_path):
    """An empty report is typed like one with rows (an int64 row, text columns), from
    a cold batch, a warm one, and a user's callable."""
    good = [write(tmp_path / f"{i}.wav", tone(300 + 100 * i, 0.3)) for i in range(3)]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF, but not a wave file")
    failing = vectorizer.transform([good[0], broken, good[1]], workers=1, progress=False)[1]
    assert failing[["row", "key", "kind"]].values.tolist() == [[1, str(broken), "decode"]]
    cold = vectorizer.transform(good, workers=1, progress=False)[1]
    warm = vectorizer.transform(good, workers=1, progress=False)[1]

    def fails_on_b(key):
        if key.endswith("b"):
            raise ValueError("no b")
        return np.ones(4)

    from hover_audio.vectors.contract import CallableVectorizer

    mixed = CallableVectorizer(fails_on_b).transform(["a", "b"], progress=False)[1]
    assert mixed[["row", "key", "kind"]].values.tolist() == [[1, "b", "error"]]
    empty = CallableVectorizer(fails_on_b).transform(["a"], progress=False)[1]
    types = failing.dtypes.to_dict()
    assert types["row"] == np.int64 and types["key"] == pd.Series(["text"]).dtype
    for report in (cold, warm, mixed, empty):
        assert report.dtypes.to_dict() == types, report.dtypes
    assert pd.concat([cold, failing]).dtypes.to_dict() == types
    assert len(cold) == len(warm) == len(empty) == 0


def test_path_objects_are_keys_like_their_strings(vectorizer, tmp_path):
    good = [write(tmp_path / f"{i}.wav", tone(300 + 100 * i, 0.3)) for i in range(3)]
    paths = [Path(key) for key in good] + [tmp_path / "missing.wav"]
    matrix, report = vectorizer.transform(paths, workers=1, progress=False)
    expected = vectorizer.transform(good, workers=1, progress=False)[0]
    assert np.array_equal(matrix[:3], expected)
    assert report[["row", "key", "kind"]].values.tolist() == [
        [3, str(tmp_path / "missing.wav"), "not_found"]]
    assert np.array_equal(vectorizer(Path(good[1])), expected[1])


def test_a_key_that_is_no_path_is_refused_by_row_before_any_clip_is_read(vectorizer,
                                                                          tmp_path):
    good = write(tmp_path / "a.wav", tone(300, 0.3))
    for bad in (None, float("nan"), 7):
        with pytest.raises(TypeError, match=f"key 1: .*got {type(bad).__name__}"):
            vectorizer.transform([good, bad], workers=1, progress=False)
    assert not (tmp_path / "cache").exists()


def test_parallel_and_serial_runs_agree(tmp_path, messy_folder):
    keys, _ = messy_folder
    serial, _ = MFCCVectorizer(cache=False).transform(keys, workers=1, progress=False)
    parallel, _ = MFCCVectorizer(cache=False).transform(keys, workers=2, progress=False)
    np.testing.assert_array_equal(np.isnan(serial), np.isnan(parallel))
    np.testing.assert_allclose(serial[:30], parallel[:30], rtol=1e-5, atol=1e-4)


WHERE_COMPUTED = textwrap.dedent("""
    import os
    import sys
    import numpy as np
    from threadpoolctl import threadpool_info
    from hover_audio.vectors.mfcc import MFCCVectorizer
    from hover_audio.vectors.runners import WORKER_MODULES

    def blas_threads():
        return max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")

    class WhereComputed(MFCCVectorizer):  # each vector: the process that computed it
        @property
        def dim(self):
            return 4

        def vector(self, samples, sr):
            ready = all(name in sys.modules for name in WORKER_MODULES)  # before any import
            super().vector(samples, sr)  # the MFCC's own BLAS calls first
            threads = len(os.listdir("/proc/self/task"))  # OS threads of this process
            return np.array([os.getpid(), threads, blas_threads(), ready], dtype=np.float32)
""")
THREADS_SCRIPT = textwrap.dedent("""
    import json, os, sys, threading
    import numpy as np
    from hover_audio.vectors import runners
    from where_computed import WhereComputed, blas_threads

    if __name__ == "__main__":
        np.ones((300, 300)) @ np.ones((300, 300))  # this process's BLAS starts its threads
        if sys.argv[1] == "threaded":  # as a notebook kernel or the server: no fork
            threading.Thread(target=threading.Event().wait, daemon=True).start()
        method, before = runners._start_method(), blas_threads()
        matrix, report = WhereComputed(cache=False).transform(sys.argv[2:], workers=2,
                                                              progress=False)
        print(json.dumps({"rows": matrix.tolist(), "failures": len(report), "pid": os.getpid(),
                          "method": method, "before": before, "after": blas_threads()}))
""")


def test_clips_decoded_in_groups_keep_their_order_and_failures(vectorizer, messy_folder,
                                                                monkeypatch):
    """run_jobs decodes a few clips before computing their vectors: whatever the group
    size, each job gets its own outcome, in order, as when done one at a time."""
    keys, _ = messy_folder
    keys = [key for pair in zip(keys[:5], keys[-5:]) for key in pair] + keys[5:30]  # mixed
    batch = jobs.make_jobs(keys)
    original = vectorizer.vector

    def failing_every_seventh(calls):
        def vector(samples, sr):
            if next(calls) % 7 == 3:
                raise RuntimeError("feature failure")
            return original(samples, sr)
        return vector

    monkeypatch.setattr(vectorizer, "vector", failing_every_seventh(itertools.count()))
    one_by_one = [jobs.clip_vector(vectorizer, job, None) for job in batch]
    assert sum(o.kind == "error" for o in one_by_one) == 4  # of the 25 clips decoded
    for clips, samples in ((3, 1 << 20), (32, 1 << 20), (32, 1)):  # 1 sample: each alone
        monkeypatch.setattr(jobs, "DECODED_CLIPS", clips)
        monkeypatch.setattr(jobs, "DECODED_SAMPLES", samples)
        monkeypatch.setattr(vectorizer, "vector", failing_every_seventh(itertools.count()))
        grouped = jobs.run_jobs(vectorizer, batch, save=False)
        assert [o.row for o in grouped] == list(range(len(batch)))
        assert [(o.kind, o.message) for o in grouped] == [(o.kind, o.message)
                                                          for o in one_by_one]
        for mine, reference in zip(grouped, one_by_one):
            if reference.vector is None:
                assert mine.vector is None
            else:
                np.testing.assert_array_equal(mine.vector, reference.vector)
    failed = [o for o in grouped if o.kind == "error"]
    assert all("RuntimeError: feature failure" in o.message and keys[o.row] in o.message
               for o in failed)


@pytest.mark.parametrize("parent,method", [("plain", "fork"), ("threaded", "forkserver")])
def test_workers_start_with_one_blas_thread_and_no_spinning_helper(tmp_path, parent, method):
    """Workers of a process whose BLAS runs threads (a notebook, the server) start
    with one BLAS thread and no other: forked while the parent holds the limit, or
    from a fork server started with it. Setting the limit in a worker whose BLAS had
    one thread restarted an OpenBLAS thread there, spinning 0.1 s of CPU. They also
    start with what they import to compute (scipy.fft: 0.1 s per worker per batch)."""
    (tmp_path / "where_computed.py").write_text(WHERE_COMPUTED)
    (tmp_path / "script.py").write_text(THREADS_SCRIPT)
    keys = [write(tmp_path / f"t{i}.wav", tone(300 + 20 * i, 0.3)) for i in range(24)]
    env = {name: value for name, value in os.environ.items()
           if name not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "script.py", parent, *keys], cwd=tmp_path,
                          env={**env, "PYTHONPATH": str(tmp_path)}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rows = np.array(result["rows"])
    assert result["method"] == method
    assert result["failures"] == 0 and rows.shape == (24, 4)
    # computed in workers (both started; one may take every clip before the other is up)
    assert 1 <= len(set(rows[:, 0])) <= 2 and result["pid"] not in set(rows[:, 0])
    assert (rows[:, 1] == 1).all(), "a worker runs a second thread"
    assert (rows[:, 2] == 1).all(), "a worker's BLAS is not limited to one thread"
    assert (rows[:, 3] == 1).all(), "a worker had to import what it computes with"
    assert result["after"] == result["before"]  # the parent's own limit is given back
    if os.cpu_count() > 1:
        assert result["before"] > 1  # the case this guards: the parent's BLAS was threaded


LIBSNDFILE_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from hover_audio.vectors.mfcc import MFCCVectorizer

    if __name__ == "__main__":
        parallel, report = MFCCVectorizer(cache=False).transform(sys.argv[1:], workers=2,
                                                                 progress=False)
        imported = "soundfile" in sys.modules  # only workers decoded
        serial, _ = MFCCVectorizer(cache=False).transform(sys.argv[1:], workers=1,
                                                          progress=False)
        print(json.dumps({"failures": len(report), "imported": imported,
                          "gap": float(np.abs(parallel - serial).max())}))
""")


def test_forked_workers_import_libsndfile_where_clips_need_it(tmp_path):
    """libsndfile is not imported before workers are forked (most clips never need it:
    4-6 ms of every batch's start-up); workers given AIFF clips, which only it reads,
    import it themselves and give the vectors a serial run gives."""
    (tmp_path / "script.py").write_text(LIBSNDFILE_SCRIPT)
    keys = []
    for i in range(24):
        keys.append(str(tmp_path / f"t{i}.aiff"))
        soundfile.write(keys[-1], tone(300 + 20 * i, 0.3), SR, format="AIFF", subtype="PCM_16")
    done = subprocess.run([sys.executable, "script.py", *keys], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failures"] == 0
    assert result["imported"] is False
    assert result["gap"] < 1e-4


def test_a_batch_holds_one_native_thread_until_its_snapshot_is_written(tmp_path, monkeypatch):
    """The report and the snapshot are written while this process's BLAS is still held
    at one thread (given back before them, a batch ran 3% slower), and it gets its
    threads back once the batch returns."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from hover_audio.vectors import snapshot

    def blas_threads():
        return max(info["num_threads"] for info in threadpool_info()
                   if info["user_api"] == "blas")

    held = []
    original = snapshot.write

    def recording_write(*args, **kw):
        held.append(blas_threads())
        return original(*args, **kw)

    monkeypatch.setattr(snapshot, "MIN_ROWS", 8)  # a batch this small gets a snapshot too
    monkeypatch.setattr(snapshot, "write", recording_write)
    keys = [write(tmp_path / f"t{i}.wav", tone(300 + 30 * i, 0.2)) for i in range(12)]
    with threadpool_limits(2):
        before = blas_threads()
        matrix, report = MFCCVectorizer(cache_dir=tmp_path / "cache").transform(
            keys, workers=1, progress=False)
        after = blas_threads()
    assert report.empty and np.isfinite(matrix).all()
    assert held == [1]  # the snapshot was written, inside the hold
    assert after == before


def test_ranges_of_one_recording_read_it_once_for_its_hash(tmp_path, monkeypatch):
    """A cold batch of 150 ranges of one recording hashes the file once, not once per
    range (its memo row reaches the cache only after a chunk is stored)."""
    path = write(tmp_path / "long.wav", tone(440, 30.0, sr=8000), sr=8000, subtype="PCM_16")
    keys = [f"{path}#t={start / 5:g},{start / 5 + 0.2:g}" for start in range(150)]
    hashed = []
    original = jobs.read_hashed
    def counted(*args, **kw):
        hashed.append(args)
        return original(*args, **kw)

    monkeypatch.setattr(jobs, "read_hashed", counted)
    monkeypatch.setattr(jobs, "_RECENT", {})
    matrix, report = MFCCVectorizer(cache_dir=tmp_path / "cache").transform(
        keys, workers=1, progress=False)
    assert report.empty and np.isfinite(matrix).all()
    assert len(hashed) == 1
    again, _ = MFCCVectorizer(cache_dir=tmp_path / "cache").transform(keys, workers=1,
                                                                       progress=False)
    np.testing.assert_array_equal(again, matrix)  # all stored under the file's hash
    assert len(hashed) == 1


class CountingVectorizer(MFCCVectorizer):
    """Counts the clips it really computes (in this process)."""

    computed = 0

    def vector(self, samples, sr):
        type(self).computed += 1
        return super().vector(samples, sr)


def test_cache_is_keyed_by_content_and_parameters(tmp_path):
    CountingVectorizer.computed = 0
    first = write(tmp_path / "a.wav", tone(500, 0.5))
    copy = tmp_path / "renamed copy.wav"
    copy.write_bytes((tmp_path / "a.wav").read_bytes())
    v13 = CountingVectorizer(n_mfcc=13, cache_dir=tmp_path / "cache")
    a, _ = v13.transform([first], workers=1, progress=False)
    b, _ = v13.transform([str(copy)], workers=1, progress=False)
    assert CountingVectorizer.computed == 1  # same bytes, other name: a cache hit
    np.testing.assert_array_equal(a, b)
    v20 = CountingVectorizer(n_mfcc=20, cache_dir=tmp_path / "cache")
    c, _ = v20.transform([first], workers=1, progress=False)
    assert CountingVectorizer.computed == 2 and c.shape == (1, v20.dim)  # never a stale vector
    # new content under the same path is recomputed
    write(tmp_path / "a.wav", tone(2000, 0.7))
    os.utime(first, ns=(1, 1))
    d, _ = v13.transform([first], workers=1, progress=False)
    assert CountingVectorizer.computed == 3 and not np.allclose(a, d)
    # ranges are part of the key
    e, _ = v13.transform([first + "#t=0,0.2"], workers=1, progress=False)
    assert CountingVectorizer.computed == 4 and not np.allclose(d, e)


KILLED_RUN = textwrap.dedent(
    """
    import sys, time
    from hover_audio.vectors.mfcc import MFCCVectorizer
    from hover_audio.vectors.cache import VectorCache

    class CountingVectorizer(MFCCVectorizer):  # the test's class name: the same cache namespace
        def vector(self, samples, sr):
            out = super().vector(samples, sr)
            time.sleep(0.05)  # 40 clips take 2 s: several of the cache's half-second saves
            print("computed", flush=True)
            return out

    keys = sys.argv[2:]
    CountingVectorizer(n_mfcc=13, cache_dir=sys.argv[1]).transform(keys, workers=1, progress=False)
    """
)


def test_a_killed_run_resumes_without_recomputing(tmp_path):
    keys = [write(tmp_path / f"c{i}.wav", tone(200 + 37 * i, 0.3)) for i in range(120)]
    cache_dir = tmp_path / "cache"
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(cache_dir), *keys],
                             stdout=subprocess.PIPE, text=True)
    for count, _ in enumerate(child.stdout, start=1):
        if count == 40:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    vectorizer = CountingVectorizer(n_mfcc=13, cache_dir=cache_dir)
    stored = len(VectorCache(cache_dir, namespace=vectorizer.fingerprint))
    # vectors are saved every FLUSH_SECONDS (0.5 s): a kill loses at most that much work
    assert 40 - (FLUSH_SECONDS + 0.2) / 0.05 <= stored < 120
    CountingVectorizer.computed = 0
    matrix, report = vectorizer.transform(keys, workers=1, progress=False)
    assert report.empty and np.isfinite(matrix).all()
    assert CountingVectorizer.computed == 120 - stored


class CrashingVectorizer(MFCCVectorizer):
    """Kills its worker process on clips at 11025 Hz, as a decoder crash would."""

    def vector(self, samples, sr):
        if sr == 11025:
            os._exit(3)
        return super().vector(samples, sr)


def test_a_clip_that_kills_its_worker_is_reported_and_the_rest_finish(tmp_path):
    keys = [write(tmp_path / f"ok{i}.wav", tone(300 + 10 * i, 0.3)) for i in range(40)]
    keys.insert(17, write(tmp_path / "killer.wav", tone(300, 0.3, 11025), 11025))
    matrix, report = CrashingVectorizer(cache=False).transform(keys, workers=2, progress=False)
    assert report[["row", "kind"]].values.tolist() == [[17, "crash"]]
    assert "killer.wav" in report["message"].iloc[0]
    assert np.isfinite(np.delete(matrix, 17, axis=0)).all()


def test_dask_cluster(tmp_path, messy_folder):
    from dask.distributed import Client, LocalCluster

    keys, _ = messy_folder
    local, _ = MFCCVectorizer(cache=False).transform(keys, workers=1, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        matrix, report = MFCCVectorizer(cache=False).transform(keys, client=client,
                                                               progress=False)
        by_address, _ = MFCCVectorizer(cache=False).transform(
            keys[:5], client=cluster.scheduler_address, progress=False)
    np.testing.assert_allclose(matrix[:30], local[:30], rtol=1e-5, atol=1e-4)
    assert sorted(report["row"]) == list(range(30, 35))
    np.testing.assert_allclose(by_address, local[:5], rtol=1e-5, atol=1e-4)


def test_user_callables_are_vectorizers_too(tmp_path, messy_folder):
    import wrappy

    keys, _ = messy_folder
    calls = []

    @wrappy.memoize(cache_limit=1000, persist_path=str(tmp_path / "custom_cache" / "vecs.pkl"),
                    persist_batch_size=10)
    def by_name(key):
        calls.append(key)
        if key.endswith("garbage.wav"):
            raise ValueError("cannot read")
        return np.array([len(key), key.count("0")], dtype=float)

    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": keys}))
    report = ds.vectorize(by_name, progress=False)
    assert ds.vectors.shape == (len(keys), 2)
    # wrappy's pickle could be written: the folder hover's docs forgot to create exists
    assert (tmp_path / "custom_cache" / "vecs.pkl").is_file()
    garbage = [i for i, key in enumerate(keys) if key.endswith("garbage.wav")][0]
    assert report[["row", "kind"]].values.tolist() == [[garbage, "error"]]
    assert np.isnan(ds.vectors[garbage]).all()
    assert ds.vectors[0].tolist() == [len(keys[0]), keys[0].count("0")]
    calls.clear()
    ds.vectorize(by_name, progress=False)
    assert calls == [keys[garbage]]  # memoized: only the failing key is called again


def test_dataset_vectorize_marks_failures_and_saves_vectors(tmp_path, messy_folder, vectorizer):
    keys, broken = messy_folder
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": keys}))
    ds.save(tmp_path / "ws")
    report = ds.vectorize(vectorizer, progress=False)
    table = ds.to_pandas()
    assert table["vector_error"].notna().sum() == len(broken) == len(report)
    assert table["vector_error"].iloc[30].startswith("empty: ")
    ds.close()
    loaded = AudioDataset.load(tmp_path / "ws", attach=False)
    np.testing.assert_array_equal(loaded.vectors, ds.vectors)
    assert loaded.to_pandas()["vector_error"].notna().sum() == len(broken)


def test_ranges_from_columns_and_fragments(tmp_path, vectorizer):
    path = write(tmp_path / "two.wav", np.concatenate([tone(300, 1.0), tone(3000, 1.0)]))
    table = pd.DataFrame({"audio": [path, path, path + "#t=1,1.5"],
                          "start": [0.0, 1.0, None], "end": [1.0, 2.0, None]})
    ds = AudioDataset.from_pandas(table)
    ds.vectorize(vectorizer, progress=False)
    low, high, fragment = ds.vectors
    np.testing.assert_allclose(high, vectorizer.vector(tone(3000, 1.0), SR), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(fragment, vectorizer.vector(tone(3000, 0.5), SR), rtol=1e-4,
                               atol=1e-3)
    np.testing.assert_allclose(low, vectorizer.vector(tone(300, 1.0), SR), rtol=1e-4, atol=1e-3)


def test_urls_from_a_local_server(tmp_path, vectorizer):
    write(tmp_path / "web clip.wav", tone(800, 0.5))
    (tmp_path / "broken.wav").write_bytes(b"nonsense")
    soundfile.write(tmp_path / "prompt.ulaw", 0.5 * np.sin(np.arange(4000) * 0.3), 8000,
                    format="RAW", subtype="ULAW")
    prompt, _ = soundfile.read(tmp_path / "prompt.ulaw", format="RAW", subtype="ULAW",
                               samplerate=8000, channels=1, dtype="float32")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        keys = [f"{base}/web%20clip.wav", f"{base}/web%20clip.wav#t=0,0.25",
                f"{base}/broken.wav", f"{base}/absent.wav",
                f"{base}/prompt.ulaw?call=7"]  # headerless: its suffix says mu-law, 8 kHz
        matrix, report = vectorizer.transform(keys, workers=1, progress=False)
    finally:
        server.shutdown()
    np.testing.assert_allclose(matrix[0], vectorizer.vector(tone(800, 0.5), SR), rtol=1e-4,
                               atol=1e-3)
    assert np.isfinite(matrix[1]).all()
    assert report[["row", "kind"]].values.tolist() == [[2, "decode"], [3, "not_found"]]
    np.testing.assert_allclose(matrix[4], vectorizer.vector(prompt, 8000), rtol=1e-4, atol=1e-3)


def test_a_file_cut_short_gets_a_vector_and_a_note_naming_both_lengths(tmp_path):
    """A WAV cut short is vectorized from what it holds; the report notes it (kind
    "cut short", both lengths), and it is not among the failed rows."""
    from hover_audio.vectors.batch import failed_rows, note_lines

    good = write(tmp_path / "good.wav", tone(300, 1.0), subtype="PCM_16")
    data = Path(write(tmp_path / "whole.wav", tone(500, 2.0), subtype="PCM_16")).read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[:len(data) // 2])
    matrix, report = MFCCVectorizer(cache_dir=tmp_path / "cache").transform(
        [str(good), str(cut)], workers=1, progress=False)
    assert np.isfinite(matrix).all()
    assert report[["row", "kind"]].values.tolist() == [[1, "cut short"]]
    assert "cut.wav" in report["message"][0] and "2.000 s" in report["message"][0]
    assert len(failed_rows(report)) == 0
    assert note_lines(report) == [f"cut short: {report['message'][0]}"]


def test_a_users_function_of_the_wrong_shape_fails_per_clip_and_says_why(tmp_path):
    """hover's commonest slip, MFCC frames not pooled, fails each clip with a message
    naming it and what to do; a vector of another length than the others fails alone;
    a dataset whose every clip failed gets a clear error from the map, not sklearn's."""
    keys = [write(tmp_path / f"c{i}.wav", tone(300 + 50 * i, 0.2 * (i + 1))) for i in range(4)]
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": keys, "label": "ABSTAIN",
                                                "SUBSET": "raw"}))
    frames = MFCCVectorizer(cache=False)
    report = ds.vectorize(lambda key: frames.mfcc(*soundfile.read(key, dtype="float32")).T,
                          progress=False)
    assert report["kind"].tolist() == ["dimension"] * 4
    assert "c0.wav" in report["message"][0] and ".mean(axis=1)" in report["message"][0]
    with pytest.raises(ValueError, match="all 4 failed to vectorize"):
        ds.compute_nd_embedding(method="pca", progress=False)
    report = ds.vectorize(lambda key: np.arange(3 + key.endswith("c2.wav"), dtype=float),
                          progress=False)
    assert report[["row", "kind"]].values.tolist() == [[2, "dimension"]]
    assert report["message"][0] == f"{keys[2]}: a vector of length 4, where the others have 3"
    assert ds.vectors.shape == (4, 3) and np.isnan(ds.vectors[2]).all()
    assert np.isfinite(ds.compute_nd_embedding(method="pca", progress=False).coords[[0, 1, 3]]).all()


def test_a_silent_clip_gets_a_vector_and_a_note(tmp_path):
    """Digital silence, and a hiss below one 16-bit step, are noted as silent (their
    vectors say nothing of a sound); a quiet but audible clip is not."""
    from hover_audio.vectors.batch import failed_rows

    zeros = write(tmp_path / "zeros.wav", np.zeros(SR // 2, dtype=np.float32), subtype="PCM_16")
    faint = write(tmp_path / "faint.flac", tone(300, 0.5, amplitude=1e-7), subtype="PCM_24")
    quiet = write(tmp_path / "quiet.wav", tone(300, 0.5, amplitude=1e-3))
    matrix, report = MFCCVectorizer(cache_dir=tmp_path / "cache").transform(
        [zeros, faint, quiet], workers=1, progress=False)
    assert np.isfinite(matrix).all()
    assert report[["row", "kind"]].values.tolist() == [[0, "silent"], [1, "silent"]]
    assert report["message"][0].startswith(f"{zeros}: silent")
    assert len(failed_rows(report)) == 0
