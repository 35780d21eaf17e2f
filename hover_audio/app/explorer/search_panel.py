"""Search by example on one page: by the selection, a typed path/URL or an upload.

A search runs in a worker thread (a new file is decoded, a URL fetched, once), so
no page of any user waits for it; its results come back as sizes and alphas of
the map's points and scores in the selection table. The aspect selector says what
"similar" means; changing it searches again. Until the user moves the min score, it
follows each index's chance level (closer than 90% of pairs of clips), so it means
the same in every aspect. The scores of the last search are kept: changing top k or
the min score filters them again at once (no new search), status and map included.
Typed text is resolved by :mod:`.search_queries` (a clip's name as the map shows it is
that clip); a search that fails clears the previous search's marks and says so.

The search box also finds clips by their annotations, not by similarity (top k and
min score do not apply):

- ``tag:NAME`` finds the clips carrying the tag ``NAME`` -- the whole tag, in any
  case (``tag:Dog`` finds ``dog``; ``tag:do`` does not);
- ``label:NAME`` finds the clips labeled ``NAME`` -- the whole label, in any case.

An upload is searched on the page's next tick: Bokeh's FileInput sends its value,
filename and MIME type together and the server applies the value first. Its bytes are
decoded in memory (``upload_query``): errors and notes (cut short, silent) name the
user's file, and nothing of it reaches the on-disk vector cache.
"""
from __future__ import annotations

import base64
import binascii
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from bokeh.core.property.descriptors import UnsetValueError
from bokeh.models import Select

from ..access import PathPolicy, upload_problem
from . import widgets
from .aspects import aspect_options, labels_changed, map_state, show_options
from .page_data import BASE_SIZE, default_marks
from .search_queries import explain_failure, resolve_typed, uploaded_name
from .upload_query import KeptUpload, Upload, upload_error, upload_query

SEARCHES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hover-audio-search")
CHANCE_SHARE = 0.1  # the automatic min score: what this share of pairs of clips reach
FINDERS = {"tag": "tagged", "label": "labeled"}  # prefixes of the box: what they find


class Ranking(NamedTuple):
    """A similarity search's answer, kept to filter again by top k and min score."""

    scores: np.ndarray  # every row's score (NaN: no vector)
    order: np.ndarray  # the nearest rows, best first (never the query)
    chance: float  # the index's chance level (NaN: unknown)
    aspect: str
    note: str = ""  # what the query's file got a vector with (e.g. "cut short: ...")


class SearchPanel:
    """The search controls of an :class:`~hover_audio.app.explorer.annotator.Annotator`.

    Parameters
    ----------
    annotator
        The page: its dataset, source, selection, status and document.
    search_index
        ``search_index(aspect) -> SimilarityIndex``, shared by the pages.
    """

    def __init__(self, annotator, search_index):
        self.annotator = annotator
        self._index = search_index
        self.controls = widgets.search_controls()
        self.offered = offered = annotator.dataset.aspects()
        # "labels" says what it learns from, as the map's selector does (the same count)
        self._labels_text = map_state(annotator.dataset).labels_option
        self.aspect = Select(title="similar in", value="overall", width=150,
                             options=aspect_options(offered, self._labels_text()),
                             disabled=len(offered) < 2, name="search-aspect")
        annotator.refresh_hooks.append(self._on_dataset_change)
        self.policy = PathPolicy(annotator.keys, annotator.allow_paths)
        self.results = np.zeros(0, dtype=np.int64)
        self._last_query = None
        self._ranking: Ranking | None = None  # the last similarity search's, when shown
        self._asked = 0  # searches asked for; only the last one's results are shown
        self._setting_threshold = False  # (our own move of the slider, not the user's)
        controls = self.controls
        controls["like"].on_click(self.search_selection)
        controls["go"].on_click(self.search_typed)
        controls["upload"].on_change("value", self._on_upload)
        controls["upload"].on_change("filename", self._on_upload_name)
        controls["select"].on_click(self.select_results)
        controls["filter"].on_click(self.filter_selection)
        controls["clear"].on_click(self.clear_search)
        self.aspect.on_change("value", lambda attr, old, new: self.rerun())
        controls["threshold"].on_change("value", self._on_threshold)
        controls["top_k"].on_change("value", lambda attr, old, new: self.refilter())
        controls["auto"].on_change("active", self._on_auto)

    @property
    def auto_threshold(self) -> bool:
        """Whether the min score follows each index's chance level (the "auto" box)."""
        return bool(self.controls["auto"].active)

    def _on_threshold(self, attr, old, new) -> None:
        if not self._setting_threshold:  # the user's own value: kept from now on
            self.controls["auto"].active = False
            self.refilter()

    def _on_auto(self, attr, old, new) -> None:
        if new and self._ranking is not None:  # back to the chance level of the results
            self._follow_threshold(self._ranking.chance)
            self.refilter()

    def _on_dataset_change(self, event) -> None:
        if labels_changed(event):
            show_options(self.aspect, self.offered, self._labels_text(event))

    def __getitem__(self, name: str):
        return self.controls[name]

    def widgets(self) -> list:
        """The rows of controls, top to bottom."""
        from bokeh.layouts import row
        from bokeh.models import Div

        c = self.controls
        return [Div(text="<b>Search by example</b>"), row(c["like"], self.aspect),
                row(c["query"], c["go"]), c["upload"],
                row(c["top_k"], c["threshold"], c["auto"]),
                row(c["select"], c["filter"], c["clear"])]

    # ------------------------------------------------------------------ queries
    def search(self, query, cleanup=None) -> Future:
        """Search for ``query`` in a worker thread; the page shows the results when done.

        ``query``: anything :meth:`SimilarityIndex.search` takes, or an :class:`Upload`
        (its vector made here; its errors and note name the user's file; kept, without
        its bytes, for another aspect: :class:`KeptUpload`)."""
        self._last_query = None if isinstance(query, Upload) else query
        self._ranking = None  # (results shown meanwhile are not filtered again)
        self._asked += 1
        ticket = self._asked
        aspect, top_k = self.aspect.value, self.controls["top_k"]
        # ranked as far as the spinner goes: a larger top k later needs no new search
        depth = max(self._top_k(), int(top_k.high or 0))
        widgets.say(self.annotator.status, "searching…")

        def work() -> None:
            try:
                index = self._index(aspect)
                asked, note = upload_query(index, query) if isinstance(query, Upload) \
                    else tuple(query) if isinstance(query, KeptUpload) else (query, "")
                scores, order = index.search(asked, depth)
                found = Ranking(scores, order, index.chance_score(CHANCE_SHARE), aspect,
                                note), None
                if isinstance(query, Upload):
                    self.annotator.later(self._keep, ticket, KeptUpload(asked, note))
            except Exception as error:  # bad query, or a new file that cannot be read
                found = None, upload_error(query, error) if isinstance(query, Upload) \
                    else explain_failure(self.annotator.dataset, query, error)
            finally:
                if cleanup is not None:
                    cleanup()
            # before the future resolves: waiting on it sees the results
            self.annotator.later(self._show, ticket, *found)

        return SEARCHES.submit(work)

    def _top_k(self) -> int:
        return max(1, int(self.controls["top_k"].value or 10))

    def _kept(self, ranking: Ranking) -> tuple[np.ndarray, str]:
        """The results of ``ranking`` under the current top k and min score, and the
        status line that says so."""
        scores, order, chance, aspect, note = ranking
        auto = self.auto_threshold and np.isfinite(chance)
        minimum = chance if auto else float(self.controls["threshold"].value)
        best = order[:self._top_k()]
        kept = best[scores[best] >= minimum]
        text = f"{len(kept)} result(s) ({aspect})"
        if len(kept) < len(best):  # scores run lower in some aspects: say so
            text += (f"; {len(best) - len(kept)} of the {len(best)} nearest are "
                     f"below min score {minimum:.2f}")
            if auto:
                text += f" (auto: {100 * (1 - CHANCE_SHARE):.0f}% of pairs score less)"
        if note:  # as the command line notes a clip: the file still got a vector
            text += f"; note: {note}"
        return kept, text

    def _follow_threshold(self, chance: float) -> None:
        """Show the automatic min score a search used (unless the user has set one)."""
        if self.auto_threshold and np.isfinite(chance):
            self._setting_threshold = True
            try:
                self.controls["threshold"].value = round(chance, 2)
            finally:
                self._setting_threshold = False

    def _keep(self, ticket, kept: KeptUpload) -> None:
        if ticket == self._asked:  # the upload's vector: another aspect searches it again
            self._last_query = kept

    def _show(self, ticket, ranking: Ranking | None, error) -> None:
        """Show a search's ``ranking`` under the current top k and min score, or its error."""
        if ticket != self._asked:  # a newer search was asked for meanwhile
            return
        if error is not None:
            self._fail(f"search failed: {error}")
            return
        self._ranking = ranking
        if self.auto_threshold:
            self._follow_threshold(ranking.chance)
        self._mark(ranking.scores, *self._kept(ranking))

    def refilter(self) -> None:
        """Show the last search's results again under the current top k and min score
        (no new search): the status, the map's marks and "Select results" follow."""
        if self._ranking is None:  # none yet, a tag/label search, or one still running
            return
        kept, text = self._kept(self._ranking)
        changed = np.setxor1d(self.results, kept)
        self.results = kept
        if 0 < len(changed) <= len(self._ranking.scores) // 4:  # a patch of those rows
            hit = np.isin(changed, kept)
            rows = changed.tolist()
            self.annotator.source.patch({
                "size": list(zip(rows, np.where(hit, BASE_SIZE + 6.0, BASE_SIZE).tolist())),
                "alpha": list(zip(rows, np.where(hit, 1.0, 0.15).tolist()))})
            widgets.say(self.annotator.status, text)
        elif len(changed):
            self._mark(self._ranking.scores, kept, text)
        else:
            widgets.say(self.annotator.status, text)

    def _mark(self, scores, best, text) -> None:
        """Show ``best`` (among all ``scores``) on the map and ``text`` in the status."""
        annotator = self.annotator
        hit = np.zeros(len(scores), dtype=bool)
        hit[best] = True
        self.results = best
        alpha = np.where(hit, 1.0, 0.15)
        alpha[~np.isfinite(scores)] = 0.0
        annotator.source.data.update(size=np.where(hit, BASE_SIZE + 6.0, BASE_SIZE),
                                     alpha=alpha, score=scores)
        widgets.say(annotator.status, text)
        annotator.refresh_selection_table()

    def rerun(self) -> Future | None:
        """Search again for the last query (after the aspect changed), also when it found
        nothing above the minimum score: another aspect may."""
        if self._last_query is not None:
            return self.search(self._last_query)
        return None

    def search_selection(self) -> Future | None:
        """Search by the selected clips or, when none is selected, by the clip on show
        (the one tapped or picked in the table): "more like this"."""
        rows = self.annotator.selected()
        shown = self.annotator.channel.focus
        if not rows and 0 <= shown < len(self.annotator.dataset):
            rows = [shown]
        if not rows:
            widgets.say(self.annotator.status, "select points, or tap one, to search by", True)
            return None
        return self.search(rows)

    def _fail(self, message: str) -> None:
        """Say a search failed; the map no longer shows the previous search's results."""
        shown = len(self.results) > 0 or self._ranking is not None
        self._unmark()
        widgets.say(self.annotator.status, message + (
            " (the previous search's results are cleared)" if shown else ""), error=True)

    def _unmark(self) -> None:
        """No search results: the map's sizes, alphas and scores as without a search."""
        self.results = np.zeros(0, dtype=np.int64)
        self._last_query = self._ranking = None
        self._asked += 1  # a search still running shows nothing when it ends
        self.annotator.source.data.update(default_marks(self.annotator.dataset))
        self.annotator.refresh_selection_table()

    def search_typed(self) -> Future | None:
        query = (self.controls["query"].value or "").strip()
        if not query:
            widgets.say(self.annotator.status,
                        "type a file's path or URL, or tag:TEXT, or label:TEXT", True)
            return None
        prefix, colon, wanted = query.partition(":")
        if colon and prefix.strip().lower() in FINDERS:
            prefix, wanted = prefix.strip().lower(), wanted.strip()
            if not wanted:
                widgets.say(self.annotator.status, f"type the {prefix} after {prefix}:", True)
            else:
                self.search_annotation(prefix, wanted)
            return None
        query, problem = resolve_typed(self.annotator.dataset, self.annotator.keys,
                                       self.policy, query)
        if query is None:
            self._fail(problem)
            return None
        return self.search(query)

    def search_tag(self, text: str) -> None:
        """Show the clips carrying the tag ``text`` (the whole tag, any case) as results."""
        self.search_annotation("tag", text)

    def search_annotation(self, kind: str, text: str) -> None:
        """Show the clips with the tag (``kind="tag"``) or label (``"label"``) ``text`` as
        results: the whole tag or label, in any case."""
        from ...dataset.tagging import TAGS, carries, fold

        dataset, wanted = self.annotator.dataset, fold(text.strip())
        if kind == "label":
            match = [fold(str(label)) == wanted for label in dataset.column("label")]
        else:  # the one case rule of tags (dataset.tagging)
            cells = dataset.column(TAGS) if TAGS in dataset.columns else [""] * len(dataset)
            match = [carries(cell, [wanted]) for cell in cells]
        match = np.array(match, dtype=bool) & bool(wanted)
        self._last_query = self._ranking = None  # another aspect finds the same clips
        self._asked += 1
        self._mark(match.astype(float), np.flatnonzero(match),
                   f"{int(match.sum())} clip(s) {FINDERS[kind]} '{text}'")

    def _on_upload(self, attr, old, new) -> None:
        if isinstance(new, (list, tuple)):
            new = new[0] if new else ""
        if not new:
            return
        problem = upload_problem(new)
        if problem:
            widgets.say(self.annotator.status, problem, error=True)
            return
        # the filename arrives after the value, in the same message: read it next tick
        self.annotator.later(self._search_upload, new)

    def _on_upload_name(self, attr, old, new) -> None:
        # an empty file's value ("") is the cleared one: only its name changes
        if uploaded_name(self.controls["upload"]):
            self.annotator.later(self._search_if_empty)

    def _search_if_empty(self) -> None:
        """Search by an empty upload (to say so), whose value never changed."""
        upload = self.controls["upload"]
        try:
            value = upload.value
        except UnsetValueError:
            value = ""
        if not (value[0] if isinstance(value, (list, tuple)) and value else value) \
                and uploaded_name(upload):
            self._search_upload("")

    def _search_upload(self, data: str) -> None:
        """Search by the uploaded ``data`` (base64), named by the upload's filename."""
        upload = self.controls["upload"]
        name = uploaded_name(upload)
        upload.clear()  # so that the same file chosen again is a new upload
        try:
            query = Upload(name, base64.b64decode(data))
        except (binascii.Error, ValueError) as error:
            shown = Upload(name, b"").shown
            widgets.say(self.annotator.status, f"search failed: {shown}: the upload did not "
                        f"arrive whole ({error})", error=True)
            return
        self.search(query)

    # ------------------------------------------------------------------ results
    def select_results(self) -> None:
        self.annotator.set_selection(self.results.tolist())

    def filter_selection(self) -> None:
        keep = set(self.results.tolist())
        self.annotator.set_selection([i for i in self.annotator.selected() if i in keep])

    def clear_search(self) -> None:
        self._unmark()
        widgets.say(self.annotator.status, "search cleared")


def finder(annotator):
    """hover's linked view: the same points (linked pan/zoom/selection) by search score."""
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure
    from bokeh.transform import linear_cmap

    plot = annotator.plot
    view = figure(height=320, output_backend="webgl",
                  sizing_mode="stretch_width", min_width=plot.min_width,
                  max_width=plot.max_width,
                  x_range=plot.x_range, y_range=plot.y_range,
                  tools="pan,wheel_zoom,lasso_select,box_select,reset",
                  title="Finder: colour = similarity to the last search")
    view.xaxis.visible = view.yaxis.visible = False
    view.scatter("x", "y", source=annotator.source, size=5, line_color=None,
                 color=linear_cmap("score", Viridis256, -1.0, 1.0, nan_color="#dddddd"))
    return view

