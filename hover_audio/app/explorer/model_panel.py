"""The model-in-the-loop panel: train, see predictions, accept them, find label problems.

The model and the flags are shared by every page of the dataset (one fit serves
all tabs); each page shows them through its own source, told by "derived" events.
"""
from __future__ import annotations

import html
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Button, CheckboxGroup, Div, RadioButtonGroup, Slider

from ...dataset.schema import ABSTAIN, LABEL, SUBSET
from ...model.classifier import fit
from ...model.clip_notes import unreliable_rows
from ...model.quality import flag_columns
from . import widgets
from .page_data import ABSTAIN_COLOR, packed, point_colors, rows_to_change

PREDICTION_COLUMNS = ("pred_label", "pred_probability", "pred_margin")
FLAG_COLUMNS = ("suspect_label", "suggested", "duplicate_of", "outlier")

# one model job at a time per process: training and checks are CPU-bound, and pages must
# stay responsive (they run here, never on the event loop)
MODEL_WORK = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hover-audio-model")


class ModelState:
    """The dataset's current model and quality flags, shared by its pages."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.model = None
        self.summary = "no model yet: label a few clips of two or more kinds, then Train"
        self.lock = threading.Lock()
        # {key: why} of clips whose vectors are unreliable (failed, cut short, silent):
        # looked up with each fit (off the event loop), or on the first accept of
        # predictions saved with the workspace; accepting leaves them out
        self.unreliable: dict[str, str] | None = None

    def train(self) -> str:
        """Fit on train, score dev, write prediction columns; returns a summary."""
        with self.lock:
            model = fit(self.dataset)
            predictions = model.predictions()
            self.unreliable = self.look_up_unreliable()
            self.model = model
            self.dataset.set_derived({name: predictions[name].to_numpy()
                                      for name in PREDICTION_COLUMNS})
            counts = predictions["pred_label"].value_counts()
            accuracy = ("n/a (no labeled dev rows)" if model.dev_accuracy is None
                        else f"{model.dev_accuracy:.1%}")
            shown = ", ".join(f"{label}: {count}" for label, count in counts.items())
            self.summary = (f"dev accuracy {accuracy} on {len(model.classes)} classes; "
                            f"predicted per class: {shown}")
            dev = self.dataset.column(LABEL)[self.dataset.column(SUBSET) == "dev"]
            unknown = sorted(set(dev) - set(model.classes) - {ABSTAIN})
            if unknown:  # the model cannot get these right: say why the accuracy is low
                count = int(np.isin(dev, unknown).sum())
                self.summary += (f" ({count} dev clip(s) carry labels no train clip has: "
                                 f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''})")
            return self.summary

    def look_up_unreliable(self) -> dict[str, str]:
        """``{key: why}`` of the clips whose vectors are unreliable (see ``clip_notes``)."""
        keys = self.dataset.keys
        return {keys[row]: why for row, why in unreliable_rows(self.dataset).items()}

    def check(self) -> dict:
        """Compute quality flags (suspect labels, duplicates, outliers) as columns."""
        flags = flag_columns(self.dataset)
        self.dataset.set_derived({name: flags[name].to_numpy() for name in FLAG_COLUMNS})
        return {
            "suspect": np.flatnonzero(flags["suspect_label"].to_numpy(dtype=bool)),
            "duplicate": np.flatnonzero(flags["duplicate_of"].to_numpy() >= 0),
            "outlier": np.flatnonzero(flags["outlier"].to_numpy(dtype=bool)),
        }


_STATES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def model_state(dataset) -> ModelState:
    """The one ModelState of ``dataset`` (created on first use), shared by its pages."""
    with _STATES_LOCK:
        if dataset not in _STATES:
            _STATES[dataset] = ModelState(dataset)
        return _STATES[dataset]


class ModelPanel:
    """Adds the model controls to an :class:`~hover_audio.app.explorer.annotator.Annotator`."""

    def __init__(self, annotator):
        self.annotator = annotator
        self.state = model_state(annotator.dataset)
        self.flags: dict = {}
        self._pending = None
        self.train = Button(label="Train", button_type="primary", width=90)
        self.auto = CheckboxGroup(labels=["refit after each label action"], active=[])
        self.view = RadioButtonGroup(labels=["colour by label", "colour by prediction"],
                                     active=0)
        self.threshold = Slider(title="accept predictions with probability ≥", start=0.5,
                                end=1.0, step=0.01, value=0.9, width=260)
        self.accept = Button(label="Accept for the selection", width=190)
        self.check = Button(label="Find label problems", width=170)
        self.pick = {kind: Button(label=f"Select {kind}s", width=130)
                     for kind in ("suspect", "duplicate", "outlier")}
        self.summary = Div(text=html.escape(self.state.summary), width=440)
        self._add_columns()
        self._connect()
        annotator.controls.children.append(column(
            Div(text="<b>Model in the loop</b>"), row(self.train, self.auto), self.view,
            row(self.threshold, self.accept), self.summary,
            row(self.check, *self.pick.values()),
        ))
        annotator.refresh_hooks.append(self._on_change)

    def _connect(self) -> None:
        self.train.on_click(self.fit)
        self.view.on_change("active", lambda attr, old, new: self._colour_by(new))
        self.accept.on_click(self.accept_predictions)
        self.check.on_click(self.find_problems)
        for kind, button in self.pick.items():
            button.on_click(lambda kind=kind: self.select_flagged(kind))

    # --------------------------------------------------------------- columns
    def _add_columns(self) -> None:
        data = self.annotator.source.data
        rows = len(data["index"])
        data.update(pred_label=[""] * rows,
                    pred_color=np.full(rows, packed(ABSTAIN_COLOR), dtype=np.uint32),
                    pred_alpha=np.full(rows, 0.85))
        self._show_predictions()

    def _show_predictions(self) -> None:
        dataset = self.annotator.dataset
        if "pred_label" not in dataset.columns:
            return
        order = dataset.label_order
        labels = [label if isinstance(label, str) else "" for label in dataset.column("pred_label")]
        probability = dataset.column("pred_probability").astype(float)
        self.annotator.source.data.update(
            pred_label=labels,
            pred_color=point_colors(labels, order),  # no prediction: "" is grey
            pred_alpha=np.where(np.isfinite(probability), 0.15 + 0.85 * np.nan_to_num(probability),
                                0.0),
        )

    def _colour_by(self, active: int) -> None:
        color, alpha = ("color", "alpha") if active == 0 else ("pred_color", "pred_alpha")
        for renderer in self.annotator.renderers.values():
            renderer.glyph.update(fill_color=color, fill_alpha=alpha)  # points have no outline

    # --------------------------------------------------------------- actions
    def _in_worker(self, work, done, busy: str) -> Future:
        """Run ``work()`` in the model thread (never on the event loop), then ``done(result,
        error)`` on this page's next tick; the page says ``busy`` meanwhile."""
        widgets.say(self.annotator.status, busy)

        def run() -> None:
            try:
                result, error = work(), None
            except ValueError as problem:  # too few labels, no vectors: a message
                result, error = None, problem
            self.annotator.later(done, result, error)

        return MODEL_WORK.submit(run)

    def fit(self) -> Future:
        def done(summary, error) -> None:
            if error is not None:
                widgets.say(self.annotator.status, f"cannot train: {error}", error=True)
                return
            widgets.say(self.annotator.status, "model trained")
            self.summary.text = html.escape(summary)

        return self._in_worker(self.state.train, done, "training the model…")

    def accept_predictions(self) -> None:
        rows = self.annotator.selected()
        table = self.annotator.dataset.to_pandas()
        if "pred_label" not in table.columns:
            widgets.say(self.annotator.status, "train a model first", error=True)
            return
        if not rows:
            widgets.say(self.annotator.status, "select the clips to label first", error=True)
            return
        rows, note = rows_to_change(table[SUBSET].to_numpy(), rows)
        chosen = table.iloc[rows]
        sure = chosen[chosen["pred_probability"].astype(float) >= self.threshold.value]
        keys = self.annotator.keys
        if self.state.unreliable is None:  # predictions from a saved workspace
            self.state.unreliable = self.state.look_up_unreliable()
        unreliable = self.state.unreliable
        broken = [i for i in sure.index if keys[i] in unreliable]
        if broken:  # a cut-short, silent or failed clip's prediction says nothing of it
            sure = sure.drop(index=broken)
            first = unreliable[keys[broken[0]]]
            note += (f"; left out {len(broken)} clip(s) whose vectors are unreliable "
                     f"(e.g. {first})")
        # one action, one undo step, however many labels it sets
        total = self.annotator.dataset.set_labels([keys[i] for i in sure.index],
                                                  sure["pred_label"].astype(str).tolist())
        widgets.say(self.annotator.status,
                    f"accepted {len(sure)} of {len(rows)} prediction(s) "
                    f"(probability ≥ {self.threshold.value:.2f}); {total} label(s) changed{note}")

    def find_problems(self) -> Future:
        def done(flags, error) -> None:
            if error is not None:
                widgets.say(self.annotator.status, f"cannot check: {error}", error=True)
                return
            self.flags = flags
            counts = ", ".join(f"{len(rows)} {kind}(s)" for kind, rows in flags.items())
            widgets.say(self.annotator.status, f"found {counts}")

        return self._in_worker(self.state.check, done,
                               "looking for label problems, duplicates and outliers…")

    def select_flagged(self, kind: str) -> None:
        """Select the rows the last check flagged as ``kind``.

        ``kind`` is "suspect", "duplicate" or "outlier". With none flagged, the
        selection is kept and the status says so.
        """
        if not self.flags:
            widgets.say(self.annotator.status, "click 'Find label problems' first", error=True)
            return
        flagged = [int(i) for i in self.flags[kind]]
        if not flagged:  # an empty pick would empty (or, as a filter, wipe) the selection
            widgets.say(self.annotator.status, f"no {kind}s to select")
            return
        # through the normal selection path, so the selection mode applies (a filter)
        self.annotator.source.selected.indices = flagged
        widgets.say(self.annotator.status, f"selected {len(self.annotator.selected())} of "
                                           f"{len(flagged)} {kind}(s)")

    # ----------------------------------------------------------------- events
    def _on_change(self, event) -> None:
        if event.kind == "derived" and "pred_label" in event.columns:
            self._show_predictions()
            self.summary.text = html.escape(self.state.summary)
        elif LABEL in event.columns and 0 in self.auto.active and self._pending is None:
            # refit once the burst of label actions settles
            self._pending = self.annotator.doc.add_timeout_callback(self._refit, 400)

    def _refit(self) -> None:
        self._pending = None
        self.fit()
