"""The clip panel: see the clip you hear, fix its range, split it, write what is said.

Tapping a point (or a row of the selection table) shows that clip's waveform and mel
spectrogram, with the range shaded inside its context and a playhead that follows any
playback of the shown clip (Space included) and goes where the pictures are clicked
(:mod:`.clip_js`). The range can be dragged (the box on the waveform) or typed, then
set; split at the playhead; a new range added on the same file; the row deleted;
its transcript typed (Enter saves). Every edit is one dataset operation (undoable);
the panel says what happened next to its buttons (and in the page's status line).
Pictures are computed in a worker thread (:mod:`.clip_overview`) and cached.
"""
from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor

from bokeh.layouts import column, row
from bokeh.events import Tap
from bokeh.models import (
    BoxAnnotation, Button, ColumnDataSource, CustomJS, Div, FixedTicker, LinearColorMapper,
    Range1d, RangeTool, Select, Span, TextInput, Toggle,
)
from bokeh.palettes import Magma256
from bokeh.plotting import figure

from ...common.values import format_number, is_missing, milliseconds
from ...dataset.schema import AUDIO, LABEL, SUBSET, TRANSCRIPT
from . import widgets
from .clip_js import FOLLOW_JS, PLACE_JS, SETTINGS_JS
from .clip_overview import OverviewCache
from .plot import MAX_WIDTH, MIN_WIDTH

PICTURES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hover-audio-pictures")
OVERVIEWS = OverviewCache()
SPEEDS = ["0.5", "0.75", "1", "1.25", "1.5", "2"]

class ClipPanel:
    """One page's clip panel; ``show(row)`` draws a row, the dataset stays the truth."""

    def __init__(self, annotator):
        self.page = annotator
        self.key: str | None = None
        self.info = Div(text="<i>tap a point to see its clip</i>", name="clip-info",
                        sizing_mode="stretch_width")
        self.wave_source = ColumnDataSource({"x": [], "low": [], "high": [], "low0": [],
                                             "high0": [], "low1": [], "high1": []},
                                            name="clip-wave")
        self.spec_source = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []},
                                            name="clip-spectrogram")
        # served: the answer number whose audio is the shown clip (-1: none), see clip_js
        self.state = ColumnDataSource({"row": [-1], "start": [0.0], "end": [0.0],
                                       "served": [-1]}, name="clip-state")
        self._served: tuple[int, str | None] = (-1, None)  # the newest answer and its key
        self.x_range = Range1d(0, 1)
        self.edges = Range1d(0, 1, name="clip-edges")  # the range being edited (dragged)
        self.y_range = Range1d(-1.05, 1.05)
        self.wave = figure(height=110, x_range=self.x_range, y_range=self.y_range,
                           toolbar_location=None, tools="", name="clip-waveform",
                           sizing_mode="stretch_width", min_width=MIN_WIDTH,
                           max_width=MAX_WIDTH)
        self.mixed = self.wave.varea("x", "low", "high", source=self.wave_source,
                                     color="#4c72b0")
        self.sides = [self.wave.varea("x", f"low{side}", f"high{side}", source=self.wave_source,
                                      color=color, visible=False)
                      for side, color in ((0, "#4c72b0"), (1, "#dd8452"))]
        self.wave.add_tools(RangeTool(x_range=self.edges, y_interaction=False))
        self.wave.yaxis.visible = False
        self.colors = LinearColorMapper(palette=Magma256, low=-80, high=0)
        self.spec = figure(height=170, x_range=self.x_range, y_range=(0, 64),
                           toolbar_location=None, tools="", name="clip-spectrogram-plot",
                           x_axis_label="seconds in the file", y_axis_label="mel",
                           sizing_mode="stretch_width", min_width=MIN_WIDTH,
                           max_width=MAX_WIDTH)
        self.spec.image("image", "x", "y", "dw", "dh", source=self.spec_source,
                        color_mapper=self.colors)
        self.shades, self.playheads = [], []
        for plot in (self.wave, self.spec):
            for _ in range(2):
                shade = BoxAnnotation(fill_color="#808080", fill_alpha=0.45, line_alpha=0)
                plot.add_layout(shade)
                self.shades.append(shade)
            self.playheads.append(Span(location=0, dimension="height", line_color="#d62728",
                                       line_width=2))
            plot.add_layout(self.playheads[-1])
        self.playhead = self.playheads[0]
        self.playheads[1].js_link("location", self.playheads[0], "location")
        self.playheads[0].js_link("location", self.playheads[1], "location")
        self.start_in = TextInput(title="start (s)", width=85, name="clip-start")
        self.end_in = TextInput(title="end (s)", width=85, name="clip-end")
        self.set_button = Button(label="Set range", width=85, name="clip-set")
        self.split_button = Button(label="Split at playhead", width=125, name="clip-split")
        self.add_button = Button(label="Add as new range", width=130, name="clip-add")
        self.delete_button = Button(label="Delete row", width=90, button_type="danger",
                                    name="clip-delete")
        self.transcript = TextInput(title="transcript (Enter saves)", name="clip-transcript",
                                    sizing_mode="stretch_width")
        self.speed = Select(title="speed", value="1", options=SPEEDS, width=65,
                            name="clip-speed")
        self.loop = Toggle(label="Loop", width=55, name="clip-loop")
        # the panel's own messages, next to its buttons (the page's status line is far up)
        self.message = Div(text="", name="clip-message", width=320,
                           styles={"align-self": "flex-end", "padding-bottom": "6px"})
        self._wire()
        self.layout = column(
            self.info, self.wave, self.spec,
            row(self.start_in, self.end_in, column(Div(text=""), self.set_button),
                column(Div(text=""), self.split_button), column(Div(text=""), self.add_button),
                column(Div(text=""), self.delete_button), self.speed,
                column(Div(text=""), self.loop), self.message, styles={"flex-wrap": "wrap"}),
            self.transcript, name="clip-panel", sizing_mode="stretch_width", max_width=MAX_WIDTH)

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        channel = self.page.channel
        channel.on_change("focus", lambda attr, old, new: self.show(new))
        channel.on_change("served", self._answered)
        channel.js_on_change("served", CustomJS(
            args=dict(info=self.state, channel=channel, playhead=self.playhead,
                      speed=self.speed, loop=self.loop), code=FOLLOW_JS))
        place = CustomJS(args=dict(info=self.state, channel=channel, playhead=self.playhead),
                         code=PLACE_JS)
        self.wave.js_on_event(Tap, place)
        self.spec.js_on_event(Tap, place)
        settings = CustomJS(args=dict(speed=self.speed, loop=self.loop), code=SETTINGS_JS)
        self.speed.js_on_change("value", settings)
        self.loop.js_on_change("active", settings)
        self.edges.on_change("start", self._dragged)
        self.edges.on_change("end", self._dragged)
        self.set_button.on_click(self.set_range)
        self.split_button.on_click(self.split)
        self.add_button.on_click(self.add_range)
        self.delete_button.on_click(self.delete)
        self.transcript.on_change("value", self._transcript)
        self.playhead.on_change("location", self._playhead_moved)
        self.page.refresh_hooks.append(self._dataset_changed)

    # ----------------------------------------------------------------- showing
    def show(self, position: int) -> None:
        """Draw the row at ``position`` (work in a thread; the page updates when done)."""
        dataset = self.page.dataset
        if not 0 <= position < len(dataset):
            return
        key = dataset.keys[position]
        clip = self.page._clip_args(position)
        self.key = key
        self.info.text = f"<i>drawing {html.escape(_name(key))}...</i>"
        future = PICTURES.submit(_draw, clip)
        future.add_done_callback(lambda done: self.page.later(self._drawn, key, position, done))

    def _drawn(self, key: str, position: int, done) -> None:
        if key != self.key:
            return  # another clip was asked for meanwhile
        try:
            view = done.result()
        except Exception as error:  # a clip that cannot be read: say so, keep the panel
            self.info.text = (f"<span style='color:#b00'>cannot draw {html.escape(_name(key))}:"
                              f" {html.escape(str(error))}</span>")
            return
        columns = len(view.envelope_min)
        step = (view.shown_to - view.shown_from) / max(1, columns)
        stereo = len(view.channels) == 2
        # the loudest of what is drawn (a channel can be louder than the mix of both)
        drawn = [part[:columns] for pair in view.channels for part in pair] if stereo else [
            view.envelope_min, view.envelope_max]
        peak = max(max(float(abs(part).max()) if len(part) else 0.0 for part in drawn), 1e-4)
        data = {"x": [view.shown_from + (i + 0.5) * step for i in range(columns)],
                "low": view.envelope_min.tolist(), "high": view.envelope_max.tolist()}
        for side, (low, high) in enumerate(view.channels or [(view.envelope_min,) * 2] * 2):
            # a stereo clip: the left channel in the upper half (0.05 to 0.95 of the peak
            # above the middle), the right in the lower, a thin gap between them
            shift, scale = (0.5 - side) * peak, 0.45
            data[f"low{side}"] = (shift + scale * low[:columns]).tolist()
            data[f"high{side}"] = (shift + scale * high[:columns]).tolist()
        self.wave_source.data = data
        self.mixed.visible = not stereo
        for renderer in self.sides:
            renderer.visible = stereo
        self.spec_source.data = {"image": [view.mel_db], "x": [view.shown_from], "y": [0],
                                 "dw": [view.shown_to - view.shown_from],
                                 "dh": [view.mel_db.shape[0]]}
        self.colors.update(low=view.low_db, high=view.high_db)
        self.y_range.update(start=-1.05 * peak, end=1.05 * peak)  # quiet clips fill the height
        self.spec.yaxis.ticker = FixedTicker(ticks=list(view.mel_ticks))
        self.spec.yaxis.major_label_overrides = dict(view.mel_ticks)
        self.x_range.update(start=view.shown_from, end=view.shown_to)
        for left, right in (self.shades[0:2], self.shades[2:4]):
            left.update(left=view.shown_from, right=view.start)
            right.update(left=view.end, right=view.shown_to)
        self._showing_edges = True
        self.edges.update(start=view.start, end=view.end)
        self._showing_edges = False
        self._placing_playhead, self._playhead_key = True, None
        self.playhead.location = view.start  # a start, not a place the clip was played to
        self._placing_playhead = False
        self.start_in.value, self.end_in.value = _time(view.start), _time(view.end)
        dataset = self.page.dataset
        text = dataset.column(TRANSCRIPT)[position] if TRANSCRIPT in dataset.columns else ""
        self._showing_text = True
        self.transcript.value = "" if is_missing(text) else str(text)
        self._showing_text = False
        # the row shown goes last: a page that sees it has the range and transcript too;
        # the playhead follows the audio only if it holds this clip (this range of it)
        served = self._served[0] if self._served[1] == key else -1
        self.state.data = {"row": [position], "start": [view.start], "end": [view.end],
                           "served": [served]}
        self._shown = key
        label, subset = dataset.column(LABEL)[position], dataset.column(SUBSET)[position]
        more = (" (the first 10 minutes)" if view.truncated else
                " (a long file: one short window per column)" if view.sampled else "")
        self.info.text = (f"<b>{html.escape(_name(key))}</b> &nbsp; {_time(view.start)}"
                          f"&ndash;{_time(view.end)} s ({_time(view.end - view.start)} s){more}"
                          f" &nbsp; label <b>{html.escape(str(label))}</b>, {subset}")

    _shown: str | None = None  # the key whose pictures and range the panel shows

    def _answered(self, attr, old, new) -> None:
        """An answer was played: if it is the shown clip, the playhead follows it."""
        row = int(self.page.channel.answered)
        keys = self.page.dataset.keys
        self._served = (int(new), keys[row] if 0 <= row < len(keys) else None)
        served = self._served[0] if self._served[1] == self._shown == self.key else -1
        if self.state.data["served"][0] != served:
            self.state.data = dict(self.state.data, served=[served])

    def _dataset_changed(self, event) -> None:
        if self.key is None or ("rows" not in event.columns and TRANSCRIPT not in event.columns):
            return
        found = self.page.dataset.positions([self.key], missing="skip")[0]
        if found >= 0:
            self.state.data = dict(self.state.data, row=[int(found)])
            if TRANSCRIPT in event.columns:
                self._showing_text = True
                text = self.page.dataset.column(TRANSCRIPT)[found]
                self.transcript.value = "" if is_missing(text) else str(text)
                self._showing_text = False

    # ----------------------------------------------------------------- editing
    _showing_edges = False
    _showing_text = False
    _placing_playhead = False
    _playhead_key: str | None = None  # the clip the playhead was moved in (by playing it)

    def _playhead_moved(self, attr, old, new) -> None:
        if not self._placing_playhead:
            self._playhead_key = self.key

    def _dragged(self, attr, old, new) -> None:
        if not self._showing_edges:
            self.start_in.value = _time(self.edges.start)
            self.end_in.value = _time(self.edges.end)

    def _times(self) -> tuple[float, float] | None:
        try:
            return float(self.start_in.value), float(self.end_in.value)
        except ValueError:
            self._say(f"type the start and end in seconds, e.g. 1.25 (got "
                          f"{self.start_in.value!r}, {self.end_in.value!r})", error=True)
            return None

    def _edit(self, operation, message: str) -> None:
        if self.key is None:
            self._say("tap a point first", error=True)
            return
        try:
            result = operation()
        except (ValueError, KeyError, TypeError) as error:
            self._say(str(error.args[0] if isinstance(error, KeyError) else error),
                          error=True)
            return
        self._say(message.format(result))
        if isinstance(result, str):
            self._focus(result)
        elif isinstance(result, tuple):
            self._focus(result[0])

    def _say(self, text: str, error: bool = False) -> None:
        widgets.say(self.message, text, error=error)
        widgets.say(self.page.status, text, error=error)

    def _focus(self, key: str) -> None:
        position = self.page.dataset.positions([key], missing="skip")[0]
        if position >= 0:
            self.show(int(position))

    def set_range(self) -> None:
        """Give the shown row the typed range (a new key); a selected row stays selected."""
        times = self._times()
        if times is not None:
            key, page = self.key, self.page

            def move() -> str:
                new = page.dataset.set_range(key, *times)
                if new != key:
                    page.keep_selected(key, new)
                return new

            self._edit(move, "range set: {}")

    def split(self) -> None:
        """Cut the shown clip in two at the playhead, once it was played (or placed) there."""
        if self.key is not None and self._playhead_key != self.key:
            self._say("Split cuts at the playhead: click the waveform where to cut (or play "
                      "the clip and pause it there) first", error=True)
            return
        key, at = self.key, float(self.playhead.location)
        start, end = self.state.data["start"][0], self.state.data["end"][0]
        if key is not None and self._shown == key and not start < at < end:
            self._say(f"the playhead is at {_time(at)} s, outside the range {_time(start)}"
                      f"-{_time(end)} s: click the waveform inside the range where to cut",
                      error=True)
            return
        self._edit(lambda: self.page.dataset.split(key, at), "split in two: {}")

    def add_range(self) -> None:
        times = self._times()
        if times is not None and self.key is not None:
            row = self.page.dataset.positions([self.key])[0]
            audio = str(self.page.dataset.column(AUDIO)[row]).split("#t=")[0]
            self._edit(lambda: self.page.dataset.add_range(audio, *times), "new range: {}")

    def delete(self) -> None:
        key = self.key
        self._edit(lambda: self.page.dataset.remove([key]), "deleted {} row (Undo brings it back)")
        if self.page.dataset.positions([key], missing="skip")[0] < 0:
            self.key = None
            self.info.text = "<i>row deleted; tap a point to see its clip</i>"

    def _transcript(self, attr, old, new) -> None:
        if self._showing_text or self.key is None:
            return
        key = self.key
        self._edit(lambda: self.page.dataset.set_transcript([key], new),
                   "transcript saved ({} row)")


def _draw(clip: tuple):
    key, start, end, channel = clip
    return OVERVIEWS.get(key, start, end, channel)


def _name(key: str) -> str:
    return key.replace("\\", "/").rsplit("/", 1)[-1]


def _time(seconds: float) -> str:
    return format_number(milliseconds(seconds))
