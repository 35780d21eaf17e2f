"""How an annotator page is arranged: three roots of its document, top to bottom.

1. ``layout``: the map beside the labeling controls (title, sound, label and its
   buttons, selection mode, commits, undo/redo, the status line, tags);
2. ``table_layout``: the selection table and its Remove button, right under the map
   and as wide as the page (its columns shrink to fit), so the clips just selected
   on the map are in view with it;
3. ``details_layout``: the clip panel (under the linked finder map, if any) beside
   search, the population table and the panels' controls (``page.controls``).

The table is a root of its own: Bokeh lays out each root apart, and SlickGrid closes
an open cell editor whenever its table is laid out again, which a message in the
status line (root 1) or a clip drawn in the clip panel (root 3) would otherwise do.
"""
from __future__ import annotations

from bokeh.layouts import column, row
from bokeh.models import Div

from .plot import MAX_WIDTH
from .search_panel import finder

# the controls' columns beside the map and beside the clip panel: as wide as each other, so
# the map and the clip panel are too
CONTROLS_WIDTH = 520


def arrange(page) -> None:
    """Set ``page.layout``, ``page.table_layout``, ``page.details_layout`` and
    ``page.controls`` (the column the panels add their controls to)."""
    labeling = page.labeling
    top_controls = column(
        row(page.title_div, page.map_aspect.select, page.map_aspect.redraw),
        page.failed,  # clips that could not be read (hidden when none)
        row(page.sound["unlock"], page.sound["hover_play"], page.sound["volume"]),
        row(labeling["label"], labeling["apply"]),
        page.label_buttons,
        Div(text="selection mode"), labeling["mode"],
        row(*labeling["commits"].values()),
        row(labeling["undo"], labeling["redo"]),
        page.status,
        page.tag_panel.layout, min_width=CONTROLS_WIDTH,
    )
    page.controls = column(*page.search.widgets(), page.population, min_width=CONTROLS_WIDTH)
    # the map side takes the page's width beside the controls (MIN_WIDTH to MAX_WIDTH)
    page.layout = _beside(page.plot, top_controls)
    page.table_layout = row(page.selection, column(page.remove), sizing_mode="stretch_width",
                            name="selection-panel")
    left = column(finder(page), page.clip_panel.layout, sizing_mode="stretch_width") \
        if page.linked else page.clip_panel.layout
    page.details_layout = _beside(left, page.controls)


def _beside(left, right):
    left = column(left, sizing_mode="stretch_width", max_width=MAX_WIDTH)
    return column(row(left, right, sizing_mode="stretch_width"), sizing_mode="stretch_width")
