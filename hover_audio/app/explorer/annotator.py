"""One annotator document: the map, playback, labeling, search and tables, wired up.

Every browser tab gets its own document and models (hover 0.8.1 shared models
between documents and broke on the second tab); all of them read and patch the
one dataset, and each applies the dataset's change events to its own source.
"""
from __future__ import annotations

import base64
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bokeh.events import DocumentReady, MouseMove, Tap, ValueSubmit
from bokeh.layouts import row
from bokeh.models import Button, ColumnDataSource, Div

from ...audio.wav import clip_seconds, clip_wav
from ...common.values import optional_number
from ...dataset.schema import AUDIO, RANGE_COLUMNS, SUBSET
from ..transport import send_frames_at_once
from . import playback_js as js
from . import page_layout, widgets
from .aspects import MapAspectControl
from .clip_panel import ClipPanel
from .drawing import page_template
from .tag_panel import TagPanel
from .search_panel import SearchPanel
from .search_index import SharedSearchIndex
from .page_data import (failed_note, label_color, label_patches, population_data,
                        recolour_patches, rows_to_change, selection_data, source_data, xy)

log = logging.getLogger(__name__)
DECODERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hover-audio-clips")
LABEL_BUTTONS = 9


class Annotator:
    """The models and callbacks of one document over a shared dataset.

    Parameters
    ----------
    dataset
        The :class:`~hover_audio.dataset.AudioDataset`; every action goes to it.
    search_index
        ``search_index(aspect)`` returning the (shared) similarity index; default: a
        :class:`SharedSearchIndex` of this page's own.
    """

    def __init__(self, dataset, search_index=None, title: str = "hover-audio",
                 linked: bool = False, panels=(), allow_paths=()):
        self.dataset = dataset
        self.keys = dataset.keys
        self._search_index = search_index or SharedSearchIndex(dataset)
        self.title = title
        self.allow_paths = tuple(allow_paths)
        self.linked = linked
        self.source = ColumnDataSource(source_data(dataset), name="clips")
        self._coloured = list(dataset.label_order)  # the order the source's colours are of
        self.channel = js.AudioChannel()
        self._previous_selection: list[int] = []
        self._setting_selection = False
        self._renamed: dict[str, str] = {}  # old key -> new key of a row re-ranged here
        self._dropped: set[str] = set()  # the selected keys the last change of rows took
        self.refresh_hooks = []  # panels' own reactions to dataset changes
        self._build()
        self.panels = [panel(self) for panel in panels]

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        from .plot import build_map

        self.plot, self.renderers, self.playing = build_map(self.source)
        self.status = widgets.status_div()
        self.sound = widgets.sound_controls()
        self.labeling = widgets.label_controls()
        self.search = SearchPanel(self, self._search_index)
        self.clip_panel = ClipPanel(self)
        self.tag_panel = TagPanel(self)
        self.map_aspect = MapAspectControl(self)
        self.population_source = ColumnDataSource(population_data(self.dataset), name="population")
        self.selection_source = ColumnDataSource(selection_data(self.dataset, self.source, []), name="selection")
        self.population = widgets.population_table(self.population_source)
        self.selection = widgets.selection_table(self.selection_source)
        self.remove = Button(label="Remove from selection", width=180)
        self.label_buttons = row(*self._label_buttons(), width=460,
                                 styles={"flex-wrap": "wrap", "gap": "4px"})
        self.plot.js_on_event(MouseMove, js.hover_request(
            self.channel, self.sound["hover_play"], self.source, self.plot, self.renderers))
        self.plot.js_on_event(Tap, js.tap_request(self.channel, self.source, self.plot,
                                                  self.renderers))
        self.channel.js_on_change("served", js.play_answer(
            self.channel, self.source, self.playing, self.sound["volume"], self.status))
        self.sound["unlock"].js_on_click(js.unlock_sound(self.sound["unlock"]))
        self.sound["volume"].js_on_change("value", js.set_volume(self.sound["volume"]))
        self.selection_source.selected.js_on_change(
            "indices", widgets.play_table_row(self.selection_source, self.channel))
        self._connect()
        self.title_div = widgets.title_div(self.title, width=190)
        self.failed = widgets.failed_div(*failed_note(self.dataset))
        page_layout.arrange(self)

    def _button_labels(self) -> list[str]:
        """The labels that get buttons and keys 1-9: the first of the labels clips have (the
        population table's), in the dataset's label order (a label no clip has any more
        gives up its button)."""
        in_use = set(self.population_source.data["label"])
        return [label for label in self.dataset.label_order if label in in_use][:LABEL_BUTTONS]

    def _label_buttons(self) -> list:
        self.button_labels = self._button_labels()
        if not self.button_labels:  # a Row needs a child
            return [Div(text="<i>labels you apply get buttons here (keys 1-9)</i>")]
        buttons = [widgets.label_button(number, label, label_color(label, self.dataset.label_order))
                   for number, label in enumerate(self.button_labels, start=1)]
        for button, label in zip(buttons, self.button_labels):
            button.on_click(partial(self.apply_label, label))
        return buttons

    def _connect(self) -> None:
        self.channel.on_change("ticket", self._on_request)
        self.channel.on_change("command", self._on_command)
        self.source.selected.on_change("indices", self._on_selection)
        self.labeling["apply"].on_click(lambda: self.apply_label(None))
        # Enter in the label box applies it, as Apply does (a blur does not)
        self.labeling["label"].on_event(ValueSubmit,
                                        lambda event: self.apply_label(event.value or ""))
        self.labeling["undo"].on_click(self.undo)
        self.labeling["redo"].on_click(self.redo)
        for subset, button in self.labeling["commits"].items():
            button.on_click(partial(self.commit, subset))
        self.remove.on_click(self.remove_from_selection)
        self.selection_source.on_change("data", self._on_table_edit)

    def attach(self, doc) -> None:
        """Put this annotator in ``doc`` and follow the dataset until the session ends."""
        send_frames_at_once()  # before the page's websocket opens, however it is served
        self.doc = doc
        doc.title = self.title
        doc.template = page_template()  # the map drawn without WebGL where no GPU draws it
        doc.add_root(self.layout)
        doc.add_root(self.table_layout)  # right under the map (see page_layout)
        doc.add_root(self.details_layout)
        doc.add_root(self.channel)
        doc.js_on_event(DocumentReady, js.keyboard(self.channel))
        stop = self.dataset.on_change(self._on_dataset_change)
        doc.on_session_destroyed(lambda context: stop())

    # ---------------------------------------------------------------- playback
    def _on_request(self, attr, old, new) -> None:
        row = int(self.channel.request)
        if not 0 <= row < len(self.keys):
            return
        unknown = self.source.data["duration"][row] == "?"  # (then the answer says it)
        DECODERS.submit(self._encode, row, self._clip_args(row), unknown).add_done_callback(
            lambda done: self.later(self._answer, *done.result()))

    def later(self, callback, *args) -> None:
        """Run ``callback(*args)`` on this page's next tick; callable from any thread.

        Work done off the event loop (decoding, searches, models, layouts) reports back
        through it; a page closed meanwhile is skipped.
        """
        try:
            self.doc.add_next_tick_callback(partial(callback, *args))
        except Exception:  # the session closed meanwhile
            log.debug("dropped %r for a closed session", callback, exc_info=True)

    def _clip_args(self, row: int) -> tuple:
        start, end, channel = (
            optional_number(self.dataset.column(name)[row], cast) if name in self.dataset.columns
            else None for name, cast in zip(RANGE_COLUMNS, (float, float, int)))
        return str(self.dataset.column(AUDIO)[row]), start, end, channel

    @staticmethod
    def _encode(row: int, clip: tuple, length: bool = True) -> tuple:
        try:  # (and its length, only for a tooltip that does not know it yet: a header read)
            return row, base64.b64encode(clip_wav(*clip)).decode("ascii"), "", (
                clip_seconds(*clip) if length else None)
        except Exception as error:  # a broken clip is a message, never a crash
            return row, "", str(error), None

    def _answer(self, row: int, payload: str, error: str, seconds: float | None) -> None:
        if error:
            widgets.say(self.status, f"cannot play: {error}", error=True)
            return
        self.channel.update(answered=row, payload=payload)
        self.channel.served = self.channel.served + 1
        if seconds is not None and self.source.data["duration"][row] == "?":
            self.source.patch({"duration": [(row, f"{seconds:.2f} s")]})

    # ---------------------------------------------------------------- labeling
    def selected(self) -> list[int]:
        return list(self.source.selected.indices)

    def apply_label(self, label: str | None = None) -> None:
        label = (label if label is not None else self.labeling["label"].value or "").strip()
        rows = self.selected()
        if not label:
            widgets.say(self.status, "type a label first", error=True)
            return
        if not rows:
            widgets.say(self.status, "select some points first (lasso, box or polygon)", True)
            return
        rows, note = rows_to_change(self.dataset.column(SUBSET), rows)
        self._act(lambda: self.dataset.set_labels([self.keys[i] for i in rows], label),
                  f"labeled {{}} clip(s) '{label}'{note}")

    def commit(self, subset: str) -> None:
        rows, note = rows_to_change(self.dataset.column(SUBSET), self.selected())
        if not rows:
            widgets.say(self.status, "select some points first", error=True)
            return
        self._act(lambda: self.dataset.commit([self.keys[i] for i in rows], subset),
                  f"moved {{}} clip(s) to {subset}{note}")

    def undo(self) -> None:
        self._act(self.dataset.undo, "undid {} change(s)", nothing="nothing to undo")

    def redo(self) -> None:
        self._act(self.dataset.redo, "redid {} change(s)", nothing="nothing to redo")

    def _act(self, operation, message: str, nothing: str | None = None) -> None:
        """Run ``operation`` and say ``message`` with what it returns; ``nothing`` is
        said instead when it returns 0 (an empty undo or redo history)."""
        try:
            changed = operation()
        except (ValueError, KeyError) as error:
            widgets.say(self.status, str(error), error=True)
            return
        if nothing is not None and not changed:
            widgets.say(self.status, nothing, error=True)
            return
        widgets.say(self.status, message.format(changed))

    def _on_command(self, attr, old, new) -> None:
        parts = (new or "").split(":")
        if parts[0] == "undo":
            self.undo()
        elif parts[0] == "redo":
            self.redo()
        elif parts[0] == "label" and len(parts) > 1 and parts[1].isdigit():
            number = int(parts[1])
            if 1 <= number <= len(self.button_labels):
                self.apply_label(self.button_labels[number - 1])
        elif parts[0] in ("prev", "next"):
            self.step_selection(-1 if parts[0] == "prev" else 1)

    def step_selection(self, step: int) -> None:
        """Show and play the previous (-1) or next (+1) row of the selection."""
        rows = sorted(self._previous_selection)
        if not rows:
            return
        current = self.channel.focus
        at = rows.index(current) + step if current in rows else (0 if step > 0 else -1)
        target = rows[at % len(rows)]
        self.channel.focus = target
        self.channel.request = target
        self.channel.ticket = self.channel.ticket + 1

    def _on_selection(self, attr, old, new) -> None:
        if self._setting_selection:
            return
        mode = widgets.SELECTION_MODES[self.labeling["mode"].active]
        previous, current = set(self._previous_selection), set(new)
        combined = {"none": current, "union": previous | current,
                    "intersection": previous & current, "difference": previous - current}[mode]
        result = sorted(combined)
        if result != sorted(new):
            self.set_selection(result)
        self._previous_selection = result
        self._show_selection()
        widgets.say(self.status, f"{len(result)} clip(s) selected")

    def refresh_selection_table(self) -> None:
        self.selection_source.data = selection_data(self.dataset, self.source,
                                                    self._previous_selection)

    def set_selection(self, rows) -> None:
        self._setting_selection = True
        try:
            self.source.selected.indices = [int(i) for i in rows]
        finally:
            self._setting_selection = False
        self._previous_selection = sorted(int(i) for i in rows)
        self._show_selection()

    def _show_selection(self) -> None:
        """The selection table of a new selection: no row picked (a click on a row, even
        at the index picked before, picks it anew and plays it), as tall as its rows."""
        self.selection_source.selected.indices = []
        self.selection_source.data = selection_data(self.dataset, self.source,
                                                    self._previous_selection)
        widgets.fit_rows(self.selection, widgets.SELECTION_MOST)

    def remove_from_selection(self) -> None:
        picked = self.selection_source.selected.indices
        if not picked:
            widgets.say(self.status, "pick rows in the selection table first", error=True)
            return
        drop = {self.selection_source.data["index"][i] for i in picked}
        self.selection_source.selected.indices = []
        self.set_selection([i for i in self.selected() if i not in drop])
        widgets.say(self.status, f"removed {len(drop)} clip(s) from the selection; "
                                 f"{len(self._previous_selection)} left")

    def _on_table_edit(self, attr, old, new) -> None:
        rows, labels = new.get("index", []), new.get("label", [])
        current = self.dataset.column("label")
        edits = {}
        for position, label in zip(rows, labels):
            if isinstance(label, str) and label.strip() and label != current[position]:
                edits.setdefault(label.strip(), []).append(self.keys[position])
        for label, keys in edits.items():
            self._act(lambda: self.dataset.set_labels(keys, label), f"labeled {{}} clip(s) '{label}'")
        texts = dict(zip(rows, new.get("transcript", [])))
        known = selection_data(self.dataset, self.source, list(texts))["transcript"]
        for (position, text), before in zip(texts.items(), known):
            if isinstance(text, str) and text != before:
                self._act(lambda: self.dataset.set_transcript([self.keys[position]], text),
                          "transcript saved for {} clip(s)")

    # ----------------------------------------------------------- dataset sync
    def keep_selected(self, old: str, new: str) -> None:
        """The row ``old`` is now the row ``new`` (its range was set): if ``old`` was
        selected, ``new`` is. Called right after the edit, before or after this page
        applied it (the server applies it on the next tick, a test at once)."""
        if old in (self.keys[i] for i in self._previous_selection):  # not applied yet
            self._renamed[old] = new
        elif old in self._dropped:  # applied: it left the selection, the new row joins it
            found = int(self.dataset.positions([new], missing="skip")[0])
            if found >= 0 and found not in self._previous_selection:
                self.set_selection(sorted(self._previous_selection + [found]))

    def _rows_moved(self) -> None:
        """Resend the source after rows were added or removed, keeping the selection by key
        (its rows may have moved; a row whose range was set by its new key) and saying
        when selected rows are gone."""
        chosen = [self._renamed.get(key, key)
                  for key in (self.keys[i] for i in self._previous_selection)]
        self._renamed.clear()
        self.keys = self.dataset.keys
        found = self.dataset.positions(chosen, missing="skip") if chosen else []
        kept = sorted(int(i) for i in found if i >= 0)
        self._dropped = {key for key, at in zip(chosen, found) if at < 0}
        self.source.data = source_data(self.dataset)
        self._coloured = list(self.dataset.label_order)
        widgets.show_failed(self.failed, *failed_note(self.dataset))
        self.set_selection(kept)
        if len(kept) < len(chosen):
            widgets.say(self.status, f"{len(chosen) - len(kept)} selected clip(s) are no longer "
                        f"rows (deleted or re-cut); {len(kept)} still selected")

    def _recolour(self) -> None:
        """Labels that gained a colour: every row of theirs takes it (not only the rows
        just changed; the others were drawn grey)."""
        order = list(self.dataset.label_order)
        if order != self._coloured:
            patches = recolour_patches(self.source.data["label"], order, self._coloured)
            self._coloured = order
            if patches:
                self.source.patch(patches)

    def _on_dataset_change(self, event) -> None:
        self.doc.add_next_tick_callback(partial(self._refresh, event))

    def _refresh(self, event) -> None:
        for hook in self.refresh_hooks:
            hook(event)
        if event.kind == "derived":
            return
        if event.kind == "layout":
            x, y = xy(self.dataset)
            self.source.data.update(x=x, y=y)
            return
        if "rows" in event.columns:  # rows added or removed: row numbers moved, resend
            self._rows_moved()
        elif len(event.positions):
            self.source.patch(label_patches(self.dataset, event.positions, event.columns))
            self._recolour()
            if set(self._previous_selection) & {int(p) for p in event.positions}:
                self.refresh_selection_table()  # else an open cell editor stays open
        self.population_source.data = population_data(self.dataset)
        widgets.fit_rows(self.population)
        if self._button_labels() != self.button_labels:  # a label came, or one has no clips
            self.label_buttons.children = self._label_buttons()


def annotator_handle(dataset, title: str = "hover-audio annotator", linked: bool = False,
                     panels=(), allow_paths=()):
    """A Bokeh app handle ``handle(doc)``: each call builds a fresh annotator document."""
    search_index = SharedSearchIndex(dataset)

    def handle(doc) -> None:
        Annotator(dataset, search_index=search_index, title=title, linked=linked,
                  panels=panels, allow_paths=allow_paths).attach(doc)

    handle.dataset = dataset
    return handle
