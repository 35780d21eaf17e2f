"""The clip panel's Python side, on a real Bokeh document: a stereo waveform fits its plot,
the playhead follows only the shown clip's sound, and the panel says its own messages."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from hover_audio import AudioDataset

from .test_explorer import Page

RATE = 16_000


@pytest.fixture()
def page(tmp_path):
    """Two stereo files: a loud left channel over a quiet right one (as QA's recording)."""
    import soundfile

    t = np.arange(3 * RATE) / RATE
    tone = np.sin(2 * np.pi * 220 * t)
    paths = []
    for i, (left, right) in enumerate(((0.7, 0.3), (0.2, -0.6))):
        path = tmp_path / f"stereo {i}.wav"
        soundfile.write(path, np.stack([left * tone, right * tone], axis=1), RATE,
                        subtype="PCM_16")
        paths.append(str(path))
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": paths, "label": ["ABSTAIN"] * 2,
                                                "SUBSET": ["raw"] * 2}))
    ds.vectors = np.random.default_rng(0).normal(size=(2, 8)).astype(np.float32)
    ds.compute_nd_embedding(method="pca", progress=False)
    return Page(ds)


def shown(panel, key: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        position = panel.page.dataset.positions([key], missing="skip")[0]
        if (panel.key == key and panel.state.data["row"][0] == position
                and not panel.info.text.startswith("<i>drawing")):
            return
        time.sleep(0.02)
    raise AssertionError(f"the panel did not draw {key}: {panel.info.text}")


def show(annotator, position: int) -> None:
    annotator.channel.focus = position
    shown(annotator.clip_panel, annotator.dataset.keys[position])


def test_both_channels_of_a_stereo_clip_are_drawn_whole_and_apart(page):
    annotator = page.annotator
    panel = annotator.clip_panel
    for position in (0, 1):
        show(annotator, position)
        wave = panel.wave_source.data
        low, high = panel.y_range.start, panel.y_range.end
        left = np.array(wave["low0"] + wave["high0"])
        right = np.array(wave["low1"] + wave["high1"])
        assert panel.sides[0].visible and panel.sides[1].visible
        assert low <= right.min() and left.max() <= high, (low, high, left, right)
        assert right.max() < left.min()  # apart: the right channel wholly below the left
        # each channel is drawn as loud as it is, relative to the other
        loudest = [0.7, 0.3] if position == 0 else [0.2, 0.6]
        spans = [np.ptp(left), np.ptp(right)]
        assert spans[0] / spans[1] == pytest.approx(loudest[0] / loudest[1], rel=0.05)
        # and the louder one fills most of its half
        assert max(spans) > 0.8 * (high - low) / 2


def answer(annotator, position: int) -> None:
    """The server answers a request for ``position`` (as ``Annotator._answer`` does)."""
    annotator._answer(position, "UklGRg==", "", None)


def test_the_playhead_follows_only_the_shown_clips_answer(page):
    annotator = page.annotator
    panel = annotator.clip_panel
    show(annotator, 0)
    answer(annotator, 0)
    assert panel.state.data["served"][0] == annotator.channel.served
    answer(annotator, 1)  # another clip's sound (hover): the playhead stays
    assert panel.state.data["served"][0] == -1
    answer(annotator, 0)
    assert panel.state.data["served"][0] == annotator.channel.served
    # a new range of the shown clip: the sound in the page is the old range's
    panel.start_in.value, panel.end_in.value = "0.5", "2"
    panel.set_range()
    key = panel.key
    assert key.endswith("stereo 0.wav#t=0.5,2")
    shown(panel, key)
    assert panel.state.data["served"][0] == -1
    assert panel.playhead.location == pytest.approx(0.5)  # reset to the new range's start


def test_split_says_why_it_cannot_cut_next_to_its_buttons(page):
    annotator = page.annotator
    panel = annotator.clip_panel
    show(annotator, 0)
    assert panel.layout.select_one({"name": "clip-message"}) is panel.message
    panel.split()  # the playhead was not placed in this clip
    assert "click the waveform" in panel.message.text and "#b00020" in panel.message.text
    panel.playhead.location = 3.5  # placed (as a click does) after the end
    panel.split()
    assert "outside the range 0-3 s" in panel.message.text
    assert "3.5" in panel.message.text
    assert len(annotator.dataset) == 2
    panel.playhead.location = 1.25
    panel.split()
    assert len(annotator.dataset) == 3
    assert "split in two" in panel.message.text and "#225522" in panel.message.text
    # the panel's message is inside the panel, in the row of its buttons
    buttons = [row for row in panel.layout.children
               if hasattr(row, "children") and panel.message in row.children]
    assert buttons and any(panel.split_button in getattr(child, "children", [child])
                           for child in buttons[0].children)
