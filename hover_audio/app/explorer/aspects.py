"""The map's aspect: what "near" means on the map of a dataset.

The layout is one pair of columns shared by every tab, so one :class:`MapState`
per dataset recomputes it in a worker thread (never on the event loop) and every
tab's selector follows it. (The search aspect is each page's own: ``search_panel``.)
"""
from __future__ import annotations

import logging
import threading
import weakref

import numpy as np
from bokeh.models import Button, Select

from ...dataset.embedding import LABELS_ASPECT, learning_labels
from ...dataset.schema import LABEL, SUBSET
from ...maps.label_metric import MIN_CLASSES, label_counts, usable_counts
from . import widgets

log = logging.getLogger(__name__)
_STATES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()
MIN_UMAP_ROWS = 20
REDRAW = "↻ redraw"


class MapState:
    """The map aspect of one dataset, and at most one recomputation of it at a time."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.aspect = "overall"
        self.pending: str | None = None  # asked for while another one was computed
        self.running = False
        self.lock = threading.Lock()
        self.pages: "weakref.WeakSet" = weakref.WeakSet()  # every page's control, to follow
        self.learned = None  # the labels the current "labels" map learned from (else None)
        self._counted = (None, None, 0)  # (change event, learned, count): one count per change
        self._now = (None, None, None)  # (change event, learning labels, "labels" option text)

    def request(self, aspect: str, done, method: str | None = None, force: bool = False) -> str:
        """Recompute the layout for ``aspect`` in a thread; ``done(message, error)`` after.

        ``method`` defaults to UMAP (PCA for tiny data); ``force`` recomputes even
        the current aspect (the first UMAP map after a quick PCA one). Returns what
        happens now: "started", "queued" (another runs; this one follows it) or
        "current" (already the map's aspect).
        """
        with self.lock:
            if self.running:
                self.pending = aspect
                return "queued"
            if aspect == self.aspect and not force:
                return "current"
            self.running = True
        threading.Thread(target=self._work, args=(aspect, done, method), daemon=True,
                         name="hover-audio-map-aspect").start()
        return "started"

    def new_labels(self, event=None) -> int:
        """Rows whose label (as the labels map learns it) changed since the "labels" map was
        drawn; 0 for the other maps. Counted once per dataset change ``event``, whatever
        the number of pages asking."""
        learned = self.learned
        if self.aspect != LABELS_ASPECT or learned is None:
            return 0
        seen, seen_learned, count = self._counted
        if event is not None and seen is event and seen_learned is learned:
            return count
        now = self._learning(event)[0]
        count = len(now) if len(now) != len(learned) else int(np.count_nonzero(now != learned))
        self._counted = (event, learned, count)
        return count

    def labels_option(self, event=None) -> str:
        """How the selectors name the "labels" aspect: the labeled clips it would learn
        from now, or what it still needs. Counted once per dataset change ``event``."""
        return self._learning(event)[1]

    def _learning(self, event=None) -> tuple[np.ndarray, str]:
        """What the labels aspect would learn from now, and its option's text: read
        once per dataset change (every page's selectors ask on each change)."""
        seen, labels, text = self._now
        if event is None or seen is not event:
            labels = learning_labels(self.dataset)
            text = labels_option(label_counts(labels))
            self._now = (event, labels, text)
        return labels, text

    def _work(self, aspect: str, done, method: str | None = None) -> None:
        while True:
            try:
                usable = 0 if self.dataset.vectors is None else int(
                    (self.dataset.vectors == self.dataset.vectors).all(axis=1).sum())
                method = method or ("umap" if usable >= MIN_UMAP_ROWS else "pca")
                learned = (learning_labels(self.dataset) if aspect == LABELS_ASPECT
                           else None)
                try:
                    self.dataset.compute_nd_embedding(method=method, aspect=aspect,
                                                      progress=False)
                except ImportError:
                    method = "pca"
                    self.dataset.compute_nd_embedding(method=method, aspect=aspect,
                                                      progress=False)
                    done(f"umap-learn is not available: a PCA map for {aspect}", True)
                self.aspect, self.learned = aspect, learned
                done(f"map: {aspect} ({method.upper()})", False)
                for page in list(self.pages):
                    page.follow_later()
            except Exception as error:  # the old map stays
                log.exception("map aspect %s failed", aspect)
                done(f"cannot draw the {aspect} map: {error}", True)
            method = None
            with self.lock:
                aspect, self.pending = self.pending, None
                if aspect is None or aspect == self.aspect:
                    self.running = False
                    return


def labels_option(counts) -> str:
    """The "labels" option's text from the clips per label it would learn from (short:
    the selector is 150 px wide; choosing it with too few says what it needs).

    Examples
    --------
    >>> labels_option({"kick": 12, "snare": 3, "clap": 1})
    'labels (15 clips)'
    >>> labels_option({"kick": 12})
    'labels (too few yet)'
    """
    used = usable_counts(dict(counts))
    if len(used) >= MIN_CLASSES:
        return f"{LABELS_ASPECT} ({sum(used.values())} clips)"
    return f"{LABELS_ASPECT} (too few yet)"


def aspect_options(aspects, labels_text: str) -> list[tuple[str, str]]:
    """A selector's ``(value, text)`` options: each aspect by its name, "labels" by
    ``labels_text``."""
    return [(aspect, labels_text if aspect == LABELS_ASPECT else aspect) for aspect in aspects]


def show_options(select: Select, aspects, labels_text: str) -> None:
    """Give ``select`` the options of ``aspects`` (see :func:`aspect_options`), if they changed."""
    options = aspect_options(aspects, labels_text)
    if options != [tuple(option) for option in select.options]:
        select.options = options


def labels_changed(event) -> bool:
    """Whether a dataset change ``event`` may change what the labels aspect learns from."""
    return bool({LABEL, SUBSET, "rows"} & set(event.columns))


def map_state(dataset) -> MapState:
    """The one MapState of ``dataset``, shared by its pages."""
    with _STATES_LOCK:
        if dataset not in _STATES:
            _STATES[dataset] = MapState(dataset)
        return _STATES[dataset]


class MapAspectControl:
    """The map aspect selector of one page (every page of the dataset shows the same) and a
    button to draw the map again (the "labels" map follows labels given since)."""

    def __init__(self, annotator):
        self.annotator = annotator
        annotator.refresh_hooks.append(self._on_dataset_change)
        self.offered = annotator.dataset.aspects()
        self.state = map_state(annotator.dataset)
        self.select = Select(title="map: near in", value=self.state.aspect,
                             options=aspect_options(self.offered, self.state.labels_option()),
                             width=150, disabled=len(self.offered) < 2, name="map-aspect")
        self.redraw = Button(label=REDRAW, width=150, name="map-redraw", align="end")
        self._following = False
        self.select.on_change("value", self._on_choice)
        self.redraw.on_click(self._on_redraw)
        self._show_new_labels()
        self.state.pages.add(self)

    def _on_choice(self, attr, old, new) -> None:
        if not self._following:
            self._request(new)

    def _request(self, aspect: str, force: bool = False) -> None:
        def show(message: str, error: bool) -> None:
            widgets.say(self.annotator.status, message, error)
            self._follow()
            self._show_new_labels()

        def done(message: str, error: bool) -> None:
            self.annotator.later(show, message, error)

        happening = self.state.request(aspect, done, force=force)
        widgets.say(self.annotator.status, {
            "started": f"computing the {aspect} map…",
            "queued": f"the {aspect} map is next (another map is being computed)",
            "current": f"map: {aspect}"}[happening])

    def _on_redraw(self) -> None:
        """Compute the map again: the "labels" map after new labels (other maps come
        back from the workspace's stored layouts unless their vectors changed)."""
        self._request(self.state.aspect, force=True)

    def _on_dataset_change(self, event) -> None:
        if labels_changed(event):
            self._show_new_labels(event)
            show_options(self.select, self.offered, self.state.labels_option(event))

    def _show_new_labels(self, event=None) -> None:
        """The redraw button counts the rows whose label changed (given, changed or taken
        back) since the "labels" map was drawn."""
        count = self.state.new_labels(event)
        self.redraw.label = f"{REDRAW} ({count} changed)" if count else REDRAW

    def _follow(self) -> None:
        """Show the dataset's map aspect (another tab may have changed it)."""
        if self.select.value != self.state.aspect:
            self._following = True
            try:
                self.select.value = self.state.aspect
            finally:
                self._following = False

    def follow_later(self) -> None:
        """Show the dataset's map aspect on this page's next tick (called from any thread)."""
        self.annotator.later(self._follow)
