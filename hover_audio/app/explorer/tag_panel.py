"""Tags in the annotator: add or remove tags on the selection, and see how many carry each.

A tag box (comma-separated tags) with **Add tags** / **Remove tags** (on the selection),
each one dataset operation (undoable, journaled); below it the tag counts, kept up to
date from the dataset's change events. Typing ``tag:TEXT`` in the search box finds the
clips with a tag (see :meth:`SearchPanel.search_tag`). Tags compare without regard to
case everywhere (:mod:`~hover_audio.dataset.tagging`): colour, counts, add and remove.
"""
from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Button, Div, TextInput, Toggle

from ...dataset.tagging import carries, tag_counts
from ...model.clip_notes import unreliable_rows
from . import widgets

SUGGESTING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hover-audio-tag-model")


class TagPanel:
    """One page's tag controls over its annotator's selection."""

    def __init__(self, annotator):
        self.page = annotator
        self.box = TextInput(title="Tags (comma-separated)", placeholder="applause, crowd",
                             width=300, name="tag-box")
        self.add = Button(label="Add tags", width=110, name="tag-add")
        self.remove = Button(label="Remove tags", width=120, name="tag-remove")
        self.colour = Toggle(label="Colour by tag", width=120, name="tag-colour")
        self.suggest = Button(label="Suggest tags", width=120, name="tag-suggest")
        self.accept = Button(label="Accept suggested", width=140, name="tag-accept")
        self.suggest.on_click(self.suggest_tags)
        self.accept.on_click(self.accept_suggested)
        self.counts = Div(text=self.count_text(), width=460, name="tag-counts")
        self.add.on_click(lambda: self.apply(add=True))
        self.remove.on_click(lambda: self.apply(add=False))
        self.colour.on_change("active", lambda attr, old, new: self.recolour())
        self.box.on_change("value", lambda attr, old, new: self.colour.active and self.recolour())
        annotator.refresh_hooks.append(self._changed)
        self.layout = column(self.box, row(self.add, self.remove, self.colour),
                             row(self.suggest, self.accept), self.counts)

    def tags(self) -> list[str]:
        return [part.strip() for part in (self.box.value or "").split(",") if part.strip()]

    def apply(self, add: bool) -> None:
        page, tags = self.page, self.tags()
        rows = page.selected()
        if not rows or not tags:
            widgets.say(page.status, "select clips and type one or more tags first", error=True)
            return
        keys = [page.keys[i] for i in rows]
        operation = page.dataset.add_tags if add else page.dataset.remove_tags
        verb = "tagged" if add else "untagged"
        page._act(lambda: operation(keys, tags), f"{verb} {{}} clip(s): {', '.join(tags)}")

    def suggest_tags(self) -> None:
        """Fit the tag model in a worker (one-vs-rest over labels and tags); say when done."""
        page = self.page
        widgets.say(page.status, "suggesting tags...")

        def work():
            try:  # clips cut short, silent or failed neither teach nor get suggestions
                unreliable = unreliable_rows(page.dataset)
                found = page.dataset.suggest_tags(leave_out=unreliable)
                message, error = (f"{found['key'].nunique()} clip(s) have suggested tags "
                                  "(selection table); Accept suggested adds them"), False
                if unreliable:
                    message += (f"; {len(unreliable)} clip(s) left out: their vectors are "
                                f"unreliable (e.g. {next(iter(unreliable.values()))})")
            except ValueError as problem:
                message, error = str(problem), True
            page.later(widgets.say, page.status, message, error)
            page.later(page.refresh_selection_table)

        SUGGESTING.submit(work)

    def accept_suggested(self) -> None:
        page = self.page
        keys = [page.keys[i] for i in page.selected()]
        if not keys:
            widgets.say(page.status, "select the clips whose suggestions you accept", error=True)
            return
        page._act(lambda: page.dataset.accept_suggested_tags(keys),
                  "accepted the suggested tags of {} clip(s)")

    def count_text(self) -> str:
        dataset = self.page.dataset
        if "tags" not in dataset.columns:
            return "<i>no tags yet</i>"
        counts = tag_counts(dataset.column("tags"))  # one tag in any case: one count
        if not counts:
            return "<i>no tags yet</i>"
        return "tags: " + " &middot; ".join(
            f"{html.escape(tag)} <b>{count}</b>" + (
                f" (also {html.escape(', '.join(others))})" if others else "")
            for tag, count, others in counts[:30])

    def recolour(self, quiet: bool = False) -> None:
        """With "Colour by tag" on, clips carrying any typed tag stand out in red and the
        others turn grey, and the status says which tags; with no tag typed the toggle goes
        back off and the status asks for one. Off, the map goes back to label colours.

        ``quiet``: recolour without a message (after a change in the dataset).
        """
        from .page_data import packed, point_colors

        page, dataset, wanted = self.page, self.page.dataset, self.tags()
        if self.colour.active and not wanted:
            self.colour.active = False  # (calls this again, which restores label colours)
            widgets.say(page.status, "type a tag to colour by (Tags box), then Colour by tag",
                        error=True)
            return
        if self.colour.active:
            cells = dataset.column("tags") if "tags" in dataset.columns else [""] * len(dataset)
            carrying = np.array([carries(cell, wanted) for cell in cells], dtype=bool)
            colours = np.where(carrying, packed("#d62728"), packed("#d0d0d0")).astype(np.uint32)
            if not quiet:
                widgets.say(page.status, f"colouring by tag {', '.join(wanted)}: "
                            f"{int(carrying.sum())} clip(s) in red")
        else:
            colours = point_colors([str(label) for label in dataset.column("label")],
                                   dataset.label_order)
            if not quiet:  # (the status said "colouring by tag ...": no longer true)
                widgets.say(page.status, "colour by tag off: points coloured by label")
        page.source.data.update(color=colours)

    def _changed(self, event) -> None:
        if "tags" in event.columns or "rows" in event.columns:
            self.counts.text = self.count_text()
        if self.colour.active and {"tags", "label", "rows"} & set(event.columns):
            self.page.later(self.recolour, True)  # after the page's own label colours
