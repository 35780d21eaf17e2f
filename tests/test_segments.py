"""Cutting recordings into clips: fixed windows, non-silent regions, segment_table(), from_folder."""
from __future__ import annotations

import warnings


import numpy as np
import pandas as pd
import pytest

from . import audio_corpus as corpus
from hover_audio import AudioDataset
from hover_audio.audio.segments import fixed_windows, frame_levels, nonsilent_regions
from hover_audio.dataset.folder import segment_table




@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """Small files for segmentation: a tone of 5 s, three tones in 7 s, broken ones."""
    root = tmp_path_factory.mktemp("segments")
    return {
        "five": corpus.write_tone_wav(root / "five.wav", 5.0),
        "one": corpus.write_tone_wav(root / "one.wav", 1.0),
        "three_tones": corpus.write_three_tones(root / "three_tones.wav"),
        "m4a": corpus.write_lavfi_m4a(root).path,
        "mp3": corpus.write_soundfile(root / "tone.mp3", corpus.tone(440, 1.5, 22050), 22050,
                                      format="MP3").path,
        **corpus.write_broken(root / "broken"),
    }



def table_of(*paths, **columns) -> pd.DataFrame:
    frame = pd.DataFrame({"audio": [str(path) for path in paths]})
    for name, values in columns.items():
        frame[name] = values
    return frame


def assert_regions(found, expected, tolerance=0.1):
    assert len(found) == len(expected), found
    for (start, end), (want_start, want_end) in zip(found, expected):
        assert abs(start - want_start) <= tolerance and abs(end - want_end) <= tolerance, (
            found, expected)


# ------------------------------------------------------------------ fixed_windows
def test_fixed_windows_exact_multiple():
    assert fixed_windows(10.0, 5.0) == [(0.0, 5.0), (5.0, 10.0)]
    assert fixed_windows(6.0, 2.0) == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)]


def test_fixed_windows_remainder_is_cut_at_the_duration():
    assert fixed_windows(12.0, 5.0) == [(0.0, 5.0), (5.0, 10.0), (10.0, 12.0)]
    assert fixed_windows(5.0, 2.0) == [(0.0, 2.0), (2.0, 4.0), (4.0, 5.0)]


def test_fixed_windows_short_remainder_dropped_by_min_duration():
    assert fixed_windows(12.0, 5.0, min_duration=3.0) == [(0.0, 5.0), (5.0, 10.0)]
    assert fixed_windows(12.0, 5.0, min_duration=2.0)[-1] == (10.0, 12.0)  # >= is kept


def test_fixed_windows_hop_overlap():
    assert fixed_windows(10.0, 4.0, hop=2.0) == [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0),
                                                  (6.0, 10.0)]
    assert fixed_windows(5.0, 2.0, hop=1.5) == [(0.0, 2.0), (1.5, 3.5), (3.0, 5.0)]


def test_fixed_windows_hop_longer_than_window_leaves_gaps():
    assert fixed_windows(10.0, 2.0, hop=4.0) == [(0.0, 2.0), (4.0, 6.0), (8.0, 10.0)]


def test_fixed_windows_duration_shorter_than_window():
    assert fixed_windows(2.0, 5.0) == [(0.0, 2.0)]
    assert fixed_windows(0.02, 5.0, min_duration=1.0) == [(0.0, 0.02)]  # the only one stays


@pytest.mark.parametrize("duration", [0.0, -1.0])
def test_fixed_windows_nothing_to_cut(duration):
    assert fixed_windows(duration, 1.0) == []


@pytest.mark.parametrize("window,hop", [(0.0, None), (-1.0, None), (1.0, 0.0), (1.0, -0.5)])
def test_fixed_windows_invalid_arguments(window, hop):
    with pytest.raises(ValueError, match="positive"):
        fixed_windows(10.0, window, hop)


@pytest.mark.parametrize("duration", [0.3, 2.0, 7.3, 10.0, 1199.99])
@pytest.mark.parametrize("window,hop", [(1.0, None), (2.5, None), (0.5, None), (3.0, 1.0),
                                        (2.0, 0.5)])
def test_fixed_windows_cover_the_duration(duration, window, hop):
    spans = fixed_windows(duration, window, hop)
    step = window if hop is None else hop
    assert spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(duration, abs=1e-6)
    for index, (start, end) in enumerate(spans):
        assert 0 < end - start <= window + 1e-9
        assert start == pytest.approx(index * step, abs=1e-6)
    if hop is None:  # no overlap, no gap
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


def test_fixed_windows_tenth_of_a_second_has_no_zero_length_window():
    spans = fixed_windows(1.0, 0.1)
    assert len(spans) == 10
    assert all(end > start for start, end in spans)


def test_fixed_windows_full_windows_survive_min_duration_equal_to_window():
    assert len(fixed_windows(1.0, 0.1, min_duration=0.1)) == 10  # got 3
    assert fixed_windows(2.0, 0.3, hop=0.1, min_duration=0.3)[-1] == (1.7, 2.0)


def test_segment_window_of_a_tenth_cuts_every_tenth(files):
    clips, report = segment_table(table_of(files["one"]), window=0.1)  # min_duration 0.1 default
    assert report.empty
    assert len(clips) == 10  # got 3: (0, .1), (.1, .2), (.2, .3)


# ------------------------------------------------------------------ frame_levels
def test_frame_levels_of_a_tone_and_of_silence():
    sr = 16000
    levels = frame_levels([corpus.tone(440, 1.0, sr)], sr, frame=0.02)
    assert len(levels) == 50
    np.testing.assert_allclose(levels, 20 * np.log10(corpus.AMPLITUDE / np.sqrt(2)), atol=0.1)
    silent = frame_levels([np.zeros(sr)], sr)
    assert len(silent) == 50
    np.testing.assert_allclose(silent, -200.0, atol=1e-3)


def test_frame_levels_do_not_depend_on_block_boundaries():
    sr = 8000
    data = np.random.default_rng(3).normal(0, 0.1, 12345).astype(np.float32)
    whole = frame_levels([data], sr)
    cuts = [0, 1, 7, 500, 4321, 4322, 9999, len(data)]
    pieces = [data[a:b] for a, b in zip(cuts, cuts[1:])]
    np.testing.assert_allclose(frame_levels(iter(pieces), sr), whole, atol=1e-4)
    assert len(whole) == int(np.ceil(len(data) / 160))  # the last partial frame counts


def test_frame_levels_mixes_2d_blocks():
    sr = 8000
    left = corpus.tone(440, 0.5, sr)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    np.testing.assert_allclose(frame_levels([stereo], sr), frame_levels([left / 2], sr),
                               atol=1e-4)


def test_frame_levels_of_nothing():
    assert frame_levels([], 8000).size == 0
    assert frame_levels([np.zeros(0)], 8000).size == 0


# ------------------------------------------------------------------ nonsilent_regions
def test_nonsilent_regions_find_three_tones(files):
    import soundfile

    data, sr = soundfile.read(str(files["three_tones"]), dtype="float32")
    regions = nonsilent_regions(frame_levels([data], sr))
    assert_regions(regions, [(start, end) for start, end, _ in corpus.THREE_TONES])
    # pad (0.05 s) is added on both sides: each region contains its tone
    for (start, end), (tone_start, tone_end, _) in zip(regions, corpus.THREE_TONES):
        assert start <= tone_start and end >= tone_end


def test_nonsilent_regions_of_silence_and_of_nothing():
    assert nonsilent_regions(np.zeros(0)) == []
    assert nonsilent_regions(np.full(100, -200.0)) == []


def test_nonsilent_regions_merge_close_ones_and_drop_clicks():
    frame = 0.02
    levels = np.full(300, -80.0)  # 6 s
    levels[50:100] = -10  # 1.0-2.0 s
    levels[105:150] = -10  # 2.1-3.0 s: 0.1 s gap -> merged with the previous one
    levels[200:202] = -10  # a 0.04 s click: shorter than min_duration
    levels[250:300] = -10  # 5.0-6.0 s: padding stops at the end
    regions = nonsilent_regions(levels, frame)
    assert regions == [(0.95, 3.05), (4.95, 6.0)]
    assert nonsilent_regions(levels, frame, merge_gap=0.05, pad=0.0) == [
        (1.0, 2.0), (2.1, 3.0), (5.0, 6.0)]


def test_nonsilent_regions_top_db_is_relative_to_the_peak():
    levels = np.full(100, -90.0)
    levels[10:40] = -20.0  # the peak
    levels[60:90] = -60.0  # 40 dB below the peak, 30 dB over the floor
    assert nonsilent_regions(levels, pad=0.0) == [(0.2, 0.8)]  # top_db=35
    assert nonsilent_regions(levels, top_db=50.0, pad=0.0) == [(0.2, 0.8), (1.2, 1.8)]


def test_nonsilent_padding_never_goes_below_zero():
    levels = np.full(50, -90.0)
    levels[:20] = -5.0
    assert nonsilent_regions(levels)[0][0] == 0.0


# ------------------------------------------------------------------ segment_table()
def test_segment_fixed_keeps_columns_and_reports_the_broken_file(files):
    table = table_of(files["five"], files["garbage"], speaker=["ann", "bo"], take=[1, 2])
    clips, report = segment_table(table, window=2.0)
    assert list(clips.columns) == ["audio", "speaker", "take", "source", "start", "end"]
    five = str(files["five"])
    assert list(clips["audio"]) == [f"{five}#t=0,2", f"{five}#t=2,4", f"{five}#t=4,5"]
    assert list(zip(clips["start"], clips["end"])) == [(0.0, 2.0), (2.0, 4.0), (4.0, 5.0)]
    assert set(clips["source"]) == {five} and set(clips["speaker"]) == {"ann"}
    assert list(clips["take"]) == [1, 1, 1]
    assert list(report.columns) == ["key", "kind", "message"]
    assert len(report) == 1
    row = report.iloc[0]
    assert row["key"] == str(files["garbage"]) and row["kind"] == "decode"
    assert files["garbage"].name in row["message"]


@pytest.mark.parametrize("mode", ["fixed", "nonsilent"])
def test_segment_reports_every_broken_file_with_its_kind(files, mode):
    broken = ["empty", "header_only", "garbage", "text_mp3", "bad_fmt_channels", "bad_fmt_tag"]
    table = table_of(files["three_tones"], *(files[key] for key in broken))
    clips, report = segment_table(table, mode=mode, window=2.0)
    assert set(clips["source"]) == {str(files["three_tones"])}
    assert list(report["key"]) == [str(files[key]) for key in broken]
    assert list(report["kind"]) == ["empty"] + ["decode"] * (len(broken) - 1)
    for key, message in zip(broken, report["message"]):
        assert files[key].name in message


def test_segment_truncated_file_uses_what_is_there(files):
    clips, report = segment_table(table_of(files["truncated_data"]), window=0.125)
    assert report.empty
    assert len(clips) == 2  # 0.25 s present of the 1 s the header claims
    assert clips["end"].max() == pytest.approx(corpus.TRUNCATED_KEPT / corpus.TRUNCATED_SR)


def test_segment_nonsilent_finds_the_three_tones(files):
    clips, report = segment_table(table_of(files["three_tones"], label=["birds"]), mode="nonsilent")
    assert report.empty
    assert_regions(list(zip(clips["start"], clips["end"])),
                   [(start, end) for start, end, _ in corpus.THREE_TONES])
    assert set(clips["label"]) == {"birds"}
    assert all(key.startswith(f"{files['three_tones']}#t=") for key in clips["audio"])


@pytest.mark.parametrize("name", ["m4a", "mp3"])
def test_segment_compressed_files(files, name):
    for mode in ("fixed", "nonsilent"):
        clips, report = segment_table(table_of(files[name]), mode=mode, window=1.0)
        assert report.empty, report
        assert clips["start"].iloc[0] == pytest.approx(0.0, abs=0.06)
        assert clips["end"].iloc[-1] == pytest.approx(corpus.SECONDS, abs=0.06)
        if mode == "fixed":
            assert len(clips) == 2


def test_segment_empty_table_and_bad_mode(files):
    clips, report = segment_table(table_of())
    assert clips.empty and report.empty
    assert list(clips.columns) == ["audio", "source", "start", "end"]
    with pytest.raises(ValueError, match="mode"):
        segment_table(table_of(files["five"]), mode="silence")


# ------------------------------------------------------------------ from_folder
def test_from_folder_segment_cuts_each_file(tmp_path):
    corpus.write_tone_wav(tmp_path / "dog" / "long.wav", 5.0)
    dataset = AudioDataset.from_folder(tmp_path, segment=2.0)
    frame = dataset.to_pandas()
    assert len(dataset) == 3
    assert list(frame["label"]) == ["dog"] * 3
    assert set(frame["SUBSET"]) == {"train"}
    suffixes = ["#t=0,2", "#t=2,4", "#t=4,5"]
    assert [key[-len(suffix):] for key, suffix in zip(dataset.keys, suffixes)] == suffixes
    assert all(key.startswith(str(tmp_path / "dog" / "long.wav")) for key in dataset.keys)
    assert list(frame["end"]) == [2.0, 4.0, 5.0]


def test_from_folder_nonsilent_is_named_as_on_the_command_line(tmp_path):
    corpus.write_three_tones(tmp_path / "calls" / "call.wav")
    named = AudioDataset.from_folder(tmp_path, segment="nonsilent")
    assert len(named) == 3  # one clip per tone
    assert named.keys == AudioDataset.from_folder(tmp_path, segment={"mode": "nonsilent"}).keys
    with pytest.raises(ValueError, match="'loud'"):
        AudioDataset.from_folder(tmp_path, segment="loud")


def test_from_folder_split_keeps_a_files_clips_together(tmp_path):
    for label in ("dog", "cat"):
        for index in range(5):
            corpus.write_tone_wav(tmp_path / label / f"{index}.wav", 3.0, sr=4000)
    dataset = AudioDataset.from_folder(tmp_path, split={"train": 0.6, "dev": 0.2,
                                                        "test": 0.2}, segment=1.0)
    frame = dataset.to_pandas()
    assert len(frame) == 30
    per_file = frame.groupby("source")["SUBSET"].nunique()
    assert len(per_file) == 10 and (per_file == 1).all()
    assert set(frame["SUBSET"]) == {"train", "dev", "test"}
    assert (frame.groupby("source").size() == 3).all()
    again = AudioDataset.from_folder(tmp_path, split={"train": 0.6, "dev": 0.2,
                                                      "test": 0.2}, segment=1.0)
    assert list(again.to_pandas()["SUBSET"]) == list(frame["SUBSET"])  # seeded


def test_from_folder_segment_leaves_broken_files_out_with_a_warning(tmp_path):
    corpus.write_tone_wav(tmp_path / "dog" / "long.wav", 5.0)
    (tmp_path / "dog" / "broken.wav").write_bytes(b"not audio at all" * 20)
    with pytest.warns(UserWarning, match="broken.wav"):
        dataset = AudioDataset.from_folder(tmp_path, segment=2.0)
    assert len(dataset) == 3
    assert all("long.wav#t=" in key for key in dataset.keys)


def test_from_folder_nonsilent_segments(tmp_path):
    corpus.write_three_tones(tmp_path / "birds" / "dawn.wav")
    corpus.write_tone_wav(tmp_path / "quiet.wav", 1.0)  # unlabeled: raw
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing here is broken
        dataset = AudioDataset.from_folder(tmp_path, segment={"mode": "nonsilent"})
    frame = dataset.to_pandas()
    birds = frame[frame["label"] == "birds"]
    assert_regions(list(zip(birds["start"], birds["end"])),
                   [(start, end) for start, end, _ in corpus.THREE_TONES])
    quiet = frame[frame["label"] != "birds"]
    assert len(quiet) == 1 and set(quiet["SUBSET"]) == {"raw"}


# ------------------------------------------------------------------ real recordings (Debian)
def test_busy_tone_recording_has_three_bursts(freedesktop):
    clips, report = segment_table(table_of(freedesktop / "phone-outgoing-busy.oga"),
                            mode="nonsilent")
    assert report.empty
    starts, ends = clips["start"].to_numpy(), clips["end"].to_numpy()
    assert len(clips) == 3
    np.testing.assert_allclose(np.diff(starts), 1.0, atol=0.05)  # one burst a second
    assert ((ends - starts > 0.5) & (ends - starts < 0.9)).all()


def test_alarm_clock_recording_has_six_rings(freedesktop):
    clips, report = segment_table(table_of(freedesktop / "alarm-clock-elapsed.oga"),
                            mode="nonsilent")
    assert report.empty and len(clips) == 6
    fixed, _ = segment_table(table_of(freedesktop / "alarm-clock-elapsed.oga"), window=2.0)
    assert list(fixed["end"])[:3] == [2.0, 4.0, 6.0]
    # to the millisecond, as the key says (6.12767 s would disagree with "#t=6,6.128")
    assert fixed["end"].iloc[-1] == round(294128 / 48000, 3) == 6.128
    assert fixed["audio"].iloc[-1].endswith("#t=6,6.128")
