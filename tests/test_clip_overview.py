"""The clip panel's pictures: exact ranges in context, sized for the panel, cached."""
from __future__ import annotations

import os

import numpy as np
import pytest

from . import audio_corpus as corpus
from hover_audio.app.explorer.clip_overview import OverviewCache, envelope, mel_picture, overview
from hover_audio.audio.decode import DecodeError


@pytest.fixture()
def three(tmp_path):
    return corpus.write_three_tones(tmp_path / "three.wav")  # tones ~0.5-1.5, 3-3.5, 5-6 s


def test_a_range_is_drawn_inside_its_context(three):
    view = overview(f"{three}#t=3,3.5", context=2.0, columns=400)
    assert (view.shown_from, view.start, view.end) == (1.0, 3.0, 3.5)
    assert view.shown_to == pytest.approx(5.5, abs=1e-3)
    assert len(view.envelope_min) == 400 and view.mel_db.shape == (64, 400)
    # the tone is loud inside the range and the context around it is near silence
    inside = slice(int(400 * (3.0 - 1.0) / 4.5) + 5, int(400 * (3.5 - 1.0) / 4.5) - 5)
    assert view.envelope_max[inside].min() > 0.1
    assert np.abs(view.envelope_max[60:160]).max() < 0.01  # the silence 1.55-2.95 s
    assert view.high_db - view.low_db == pytest.approx(80.0, abs=0.01)  # the dB floor


def test_context_stops_at_the_ends_of_the_file(three):
    view = overview(f"{three}#t=0.5,1.5", context=2.0)
    assert view.shown_from == 0.0 and view.start == 0.5
    end = overview(f"{three}#t=6,7", context=2.0)
    assert end.shown_to == pytest.approx(7.0, abs=1e-3)


def test_a_whole_file_is_drawn_whole(three):
    view = overview(str(three))
    assert (view.shown_from, view.start) == (0.0, 0.0)
    assert view.end == pytest.approx(7.0, abs=1e-3) and not view.truncated and not view.sampled
    assert overview(str(three), max_seconds=2.0).sampled  # longer than that: sampled


def test_a_long_file_that_cannot_seek_is_drawn_in_part(tmp_path):
    m4a = corpus.write_lavfi_m4a(tmp_path).path  # ffmpeg decodes it; libsndfile cannot seek it
    part = overview(str(m4a), max_seconds=0.5)
    assert part.truncated and not part.sampled
    assert part.shown_to == pytest.approx(0.5, abs=0.05)


def test_short_clips_get_fewer_columns_than_asked():
    samples = np.sin(np.arange(160) / 3).astype(np.float32)
    low, high = envelope(samples, 600)
    assert len(low) == 160 and (low <= high).all()
    db, ticks = mel_picture(samples, 16000, 600)
    assert db.shape[0] == 64 and 1 <= db.shape[1] <= 600 and np.isfinite(db).all()
    assert "1 kHz" in ticks.values() and all(0 <= at <= 64 for at in ticks)


def test_the_cache_serves_a_drawn_clip_again_until_its_file_changes(tmp_path):
    path = corpus.write_tone_wav(tmp_path / "a.wav", 1.0)
    cache = OverviewCache(size=2)
    first = cache.get(str(path))
    assert cache.get(str(path)) is first
    corpus.write_tone_wav(path, 2.0)
    os.utime(path, ns=(1, 1))
    again = cache.get(str(path))
    assert again is not first and again.end == pytest.approx(2.0, abs=1e-3)


def test_a_broken_file_raises_the_decoders_error(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(DecodeError):
        overview(str(broken))


def test_a_long_file_is_drawn_from_a_window_per_column(tmp_path):
    """Twenty minutes, a tone in minute 15 only: the overview sees it without the whole read."""
    import soundfile

    rate = 8000
    samples = np.zeros(20 * 60 * rate, dtype=np.float32)
    at = 15 * 60 * rate
    samples[at:at + 30 * rate] = 0.5 * np.sin(np.arange(30 * rate) / rate * 2 * np.pi * 700)
    path = tmp_path / "long.wav"
    soundfile.write(path, samples, rate, subtype="PCM_16")
    view = overview(str(path), columns=400, max_seconds=600)
    assert view.sampled and not view.truncated
    assert (view.shown_from, view.shown_to, view.end) == (0.0, 1200.0, 1200.0)
    loud = np.flatnonzero(view.envelope_max > 0.2)
    assert len(loud) and set(loud) <= set(range(int(400 * 15 / 20), int(400 * 15.5 / 20) + 2))
    assert view.mel_db.shape == (64, 400)
