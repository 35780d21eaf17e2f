"""A multichannel file listed one row per channel: keys ``file.wav#channel=N``, each row
vectorized, played and drawn from its own channel only."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import soundfile

from . import audio_corpus as corpus
from hover_audio import AudioDataset, MFCCVectorizer
from hover_audio.app.cli import main
from hover_audio.app.explorer.clip_overview import overview
from hover_audio.audio.sources import SourceError, clip_id, parse_key
from hover_audio.audio.wav import clip_wav

RATE = 16000


@pytest.fixture()
def folder(tmp_path):
    """A stereo file (440 Hz loud left, 1000 Hz soft right, 3 s) and a mono one."""
    root = tmp_path / "calls"
    root.mkdir()
    left = corpus.tone(440, 3.0, RATE, 0.5)
    right = corpus.tone(1000, 3.0, RATE, 0.1)
    soundfile.write(root / "stereo.wav", np.stack([left, right], axis=1), RATE)
    soundfile.write(root / "mono.wav", corpus.tone(300, 1.0, RATE), RATE)
    return root


def test_keys_name_a_channel_as_a_media_fragment():
    assert clip_id("a.wav", channel=1) == "a.wav#channel=1"
    assert clip_id("a.wav", 1, 2.5, 0) == "a.wav#t=1,2.5&channel=0"
    ref = parse_key("a.wav#t=1,2&channel=1")
    assert (ref.location, ref.start, ref.end, ref.channel) == ("a.wav", 1.0, 2.0, 1)
    assert parse_key("Take #3.wav").location == "Take #3.wav"  # still a name
    assert parse_key("a.wav#t=1,2&xywh=0,0,5,5").end == 2.0  # other dimensions ignored
    with pytest.raises(SourceError, match="disagrees with the fragment"):
        parse_key("a.wav#channel=1", channel=0)
    with pytest.raises(SourceError, match="not an index"):
        parse_key("a.wav#channel=left")


def test_split_lists_each_channel_and_keeps_mono_files_whole(folder):
    ds = AudioDataset.from_folder(folder, channels="split")
    stereo = str(folder / "stereo.wav")
    assert sorted(ds.keys) == sorted([str(folder / "mono.wav"), f"{stereo}#channel=0",
                                      f"{stereo}#channel=1"])
    table = ds.to_pandas().set_index("audio")
    assert table.loc[f"{stereo}#channel=1", "channel"] == 1
    with pytest.raises(ValueError, match="channels must be one of"):
        AudioDataset.from_folder(folder, channels="mix")


def test_each_channel_row_plays_and_is_vectorized_from_its_channel(folder, tmp_path):
    ds = AudioDataset.from_folder(folder, channels="split")
    ds.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), workers=1, progress=False)
    stereo = str(folder / "stereo.wav")
    left, right = (ds.vectors[ds.positions([f"{stereo}#channel={c}"])[0]] for c in (0, 1))
    assert not np.allclose(left, right)
    for channel, freq in ((0, 440), (1, 1000)):
        samples, rate = soundfile.read(io.BytesIO(clip_wav(f"{stereo}#channel={channel}")))
        assert samples.ndim == 1 and abs(corpus.peak_frequency(samples, rate) - freq) < 5
    assert overview(f"{stereo}#channel=0").envelope_max.max() == pytest.approx(0.5, abs=0.01)
    assert overview(f"{stereo}#channel=1").envelope_max.max() == pytest.approx(0.1, abs=0.01)


def test_segments_and_range_edits_keep_the_channel(folder, tmp_path):
    ds = AudioDataset.from_folder(folder, segment=1.0, channels="split")
    stereo = str(folder / "stereo.wav")
    assert f"{stereo}#t=1,2&channel=1" in ds.keys and f"{stereo}#t=2,3&channel=0" in ds.keys
    ds.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), workers=1, progress=False)
    left, right = ds.split(f"{stereo}#t=1,2&channel=1", 1.5)
    assert (left, right) == (f"{stereo}#t=1,1.5&channel=1", f"{stereo}#t=1.5,2&channel=1")
    assert ds.add_range(f"{stereo}#channel=1", 0.2, 0.4) == f"{stereo}#t=0.2,0.4&channel=1"


def test_cli_channels_split(folder, tmp_path, capsys):
    out = tmp_path / "rows.csv"
    assert main(["export", str(folder), str(out), "--channels", "split", "--segment", "1"]) == 0
    keys = pd.read_csv(out)["audio"].tolist()
    assert sum(key.endswith("&channel=1") for key in keys) == 3 and len(keys) == 7
    with pytest.raises(SystemExit):
        main(["export", str(folder), str(out), "--channels", "mix"])


def test_the_panel_of_a_stereo_clip_has_both_channels(folder):
    view = overview(str(folder / "stereo.wav"))
    assert len(view.channels) == 2
    (left_low, left_high), (right_low, right_high) = view.channels
    assert left_high.max() == pytest.approx(0.5, abs=0.01)
    assert right_high.max() == pytest.approx(0.1, abs=0.01)
    assert overview(str(folder / "mono.wav")).channels == ()
    assert overview(str(folder / "stereo.wav") + "#channel=1").channels == ()
