"""The "pitch" vectorizer: the default vector plus the 12 pitch classes."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from hover_audio.model.evaluation import precision_at_k
from hover_audio.vectors import features, registry
from hover_audio.vectors.contract import aspect_weights
from hover_audio.vectors.mfcc import MFCCVectorizer
from hover_audio.vectors.pitch import PITCH_SHARE, PitchVectorizer

SR = 16000
C_MAJOR, A_MINOR = (261.63, 329.63, 392.0), (220.0, 261.63, 329.63)


def chord(pitches_hz, seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A plucked chord: each note with 6 decaying harmonics, and a little noise."""
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros_like(t)
    for f in pitches_hz:
        for h in range(1, 7):
            out += np.sin(2 * np.pi * f * h * t) / h * np.exp(-t * (1.5 + h))
    out += np.random.default_rng(seed).normal(0, 0.01, len(t))
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def test_pitch_classes_name_the_notes_whatever_the_rate():
    """A3 with its harmonics: most energy in A, then E (the 3rd harmonic); silence gives
    equal shares."""
    for sr in (8000, 16000, 44100):
        taper = np.hanning(int(0.1 * sr)).astype(np.float32)
        bank = features.chroma_filterbank(sr, 2 * int(0.1 * sr))
        shares = np.exp(features.pitch_classes(chord([220.0], 1.0, sr), taper, bank, 64))
        assert int(np.argmax(shares)) == 9 and shares[9] > 0.4, (sr, shares.round(2))
        assert shares[4] > shares[[0, 2, 5, 7, 11]].max()
    silence = features.pitch_classes(np.zeros(SR, np.float32),
                                     np.hanning(3200).astype(np.float32),
                                     features.chroma_filterbank(SR, 3200), 64)
    assert np.allclose(silence, silence[0]) and np.isfinite(silence).all()


def test_a_long_file_uses_a_bounded_number_of_windows(monkeypatch):
    import scipy.fft

    long = np.tile(chord([330.0], 1.0), 120)  # two minutes: 600 windows of 0.2 s
    taper = np.hanning(int(0.2 * SR)).astype(np.float32)
    bank = features.chroma_filterbank(SR, 2 * int(0.2 * SR))
    seen, original = [], scipy.fft.rfft

    def counted(x, *args, **kwargs):
        seen.append(np.shape(x)[0])
        return original(x, *args, **kwargs)

    monkeypatch.setattr(scipy.fft, "rfft", counted)  # features imports it where it is used
    whole = features.pitch_classes(long, taper, bank, 64)
    assert seen == [64]
    short = features.pitch_classes(long[:SR * 5], taper, bank, 64)
    assert int(np.argmax(whole)) == int(np.argmax(short)) == 4  # E


def test_the_pitch_aspect_finds_the_same_chord_played_otherwise():
    """C major and A minor at three octaves, four lengths: "pitch" finds the same chord,
    the default aspects (timbre and time shape) much less."""
    clips, labels = [], []
    for i in range(12):
        for name, notes in (("C", C_MAJOR), ("Am", A_MINOR)):
            octave = 2.0 ** (i % 3 - 1)
            clips.append(chord([f * octave for f in notes], 0.5 + 0.25 * (i % 4), seed=i))
            labels.append(name)
    vectorizer = PitchVectorizer(cache=False)
    vectors = np.stack([vectorizer.vector(clip, SR) for clip in clips])
    pitch = precision_at_k(vectors, labels, 5, aspect_weights(vectorizer, "pitch"))
    overall = precision_at_k(vectors, labels, 5, aspect_weights(vectorizer, "overall"))
    assert pitch >= 0.9 and pitch > overall + 0.2, (pitch, overall)


def test_the_default_vector_comes_first_and_the_aspects_weigh_pitch_as_documented(tmp_path):
    """The first 297 values are MFCCVectorizer's, bit for bit (also when a 96 kHz file is
    resampled); "timbre" and "shape" weigh them as the default does, "overall" too but
    with a share for pitch."""
    paths = []
    for i, sr in enumerate((8000, 44100, 96000)):
        path = tmp_path / f"chord_{i}.wav"
        soundfile.write(path, chord(C_MAJOR, 0.8, sr, seed=i), sr, subtype="PCM_24")
        paths.append(str(path))
    default, _ = MFCCVectorizer(cache=False).transform(paths, workers=1, progress=False)
    ours, report = PitchVectorizer(cache_dir=tmp_path / "cache").transform(paths, workers=1,
                                                                           progress=False)
    assert report.empty and ours.shape == (3, 309) and np.isfinite(ours).all()
    np.testing.assert_array_equal(ours[:, :297], default)
    mine, theirs = PitchVectorizer().aspects(), MFCCVectorizer().aspects()
    assert list(mine) == [*theirs, "pitch"]
    for name in ("timbre", "shape"):
        np.testing.assert_array_equal(mine[name][:297], theirs[name])
        assert not mine[name][297:].any()
    assert not mine["pitch"][:297].any() and np.sum(mine["pitch"] ** 2) == pytest.approx(1.0)
    # "overall": the default's, and PITCH_SHARE of the squared length for pitch
    np.testing.assert_allclose(mine["overall"][:297], np.sqrt(1 - PITCH_SHARE) * theirs["overall"],
                               rtol=1e-6)
    assert np.sum(mine["overall"][297:] ** 2) == pytest.approx(PITCH_SHARE)
    assert np.sum(mine["overall"] ** 2) == pytest.approx(1.0)
    no_shape = PitchVectorizer(segments=1).aspects()  # the default's None: all alike
    assert np.allclose(no_shape["overall"][:153], no_shape["overall"][0])  # timbre, envelope
    assert np.sum(no_shape["overall"][153:] ** 2) == pytest.approx(PITCH_SHARE)


def test_parameters_cache_and_registry():
    assert PitchVectorizer().fingerprint != MFCCVectorizer().fingerprint
    assert PitchVectorizer(pitch_window=0.1).fingerprint != PitchVectorizer().fingerprint
    assert PitchVectorizer(pitch_windows=8).fingerprint != PitchVectorizer().fingerprint
    # its vectors begin with the default's: a new version of those is a new version of it
    # (version 1 alone kept serving vectors of the older MFCC features from the cache)
    from hover_audio.vectors import pitch

    assert PitchVectorizer.version == f"{MFCCVectorizer.version}.{pitch.PITCH_VERSION}"
    assert PitchVectorizer(n_mfcc=20).dim == 20 * 5 + 3 + 12 * 12 + 12
    for bad in ({"pitch_window": 0.0}, {"pitch_windows": 0}):
        with pytest.raises(ValueError, match="pitch_window"):
            PitchVectorizer(**bad)
    assert registry.is_installed("pitch")  # no extra
    made = registry.make("pitch", pitch_window=0.3)
    assert isinstance(made, PitchVectorizer) and made.pitch_window == 0.3
    assert made.get_params()["pitch_windows"] == 64 and made.get_params()["n_mfcc"] == 30
