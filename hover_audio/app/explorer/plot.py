"""The map: one scatter renderer per subset over the shared source, with its tools."""
from __future__ import annotations

from bokeh.models import (
    BoxSelectTool, CDSView, ColumnDataSource, CustomJS, GroupFilter, HoverTool,
    LassoSelectTool, Legend, LegendItem, PanTool, PolySelectTool, ResetTool, TapTool,
    WheelZoomTool,
)
from bokeh.plotting import figure

from ...dataset.schema import SUBSETS
from .page_data import MARKERS

TOOLTIPS = [  # Bokeh inserts these fields as text: file names and labels are escaped
    ("file", "@name"),
    ("label", "@label"),
    ("subset", "@subset"),
    ("duration", "@duration"),
]


# the map and the clip panel take the page's width beside the controls, within these
# (narrower pages scroll; wider ones would draw a letterbox of a map)
MIN_WIDTH, MAX_WIDTH = 420, 1100


def build_map(source: ColumnDataSource, height: int = 620):
    """The scatter figure and its renderers by subset (legend click hides a subset)."""
    lasso = LassoSelectTool(continuous=False)
    plot = figure(
        height=height, output_backend="webgl", title="Map: hover or tap to listen",
        name="map", sizing_mode="stretch_width", min_width=MIN_WIDTH, max_width=MAX_WIDTH,
        tools=[lasso, PolySelectTool(), BoxSelectTool(), PanTool(), WheelZoomTool(),
               TapTool(behavior="inspect"), ResetTool()],
        active_drag=lasso, active_scroll="auto", toolbar_location="above",
    )
    plot.xaxis.visible = plot.yaxis.visible = False
    plot.grid.visible = False
    renderers, items = {}, []
    for subset in SUBSETS:
        view = CDSView(filter=GroupFilter(column_name="subset", group=subset))
        renderers[subset] = plot.scatter(
            "x", "y", source=source, view=view, marker=MARKERS[subset], size="size",
            fill_color="color", fill_alpha="alpha", line_color=None,
            selection_line_color="#222222", selection_line_width=1.5,
            nonselection_fill_alpha=0.25, nonselection_line_color=None, name=f"map-{subset}",
        )  # points are filled, not outlined: an outline doubles a canvas repaint's time
        # the legend shows a neutral marker per subset (colours mean labels, not subsets);
        # hiding it from the legend hides the subset's points
        key = plot.scatter([float("nan")], [float("nan")], marker=MARKERS[subset], size=9,
                           color="#666666")
        key.js_on_change("visible", CustomJS(args=dict(points=renderers[subset]),
                                             code="points.visible = cb_obj.visible;"))
        items.append(LegendItem(label=subset, renderers=[key]))
    legend = Legend(items=items, click_policy="hide", location="top_left",
                    title="subset (click to hide)")
    plot.add_layout(legend)
    # the nearest point only (per subset): never a list of every point under the cursor,
    # which on a dense map of 100k clips is hundreds of rows rebuilt on every move
    hover = HoverTool(renderers=list(renderers.values()), tooltips=TOOLTIPS, limit=1)
    plot.add_tools(hover)
    plot.toolbar.active_inspect = [hover]
    playing = ColumnDataSource({"x": [], "y": []}, name="playing")
    # the ring on the point being played lives on the overlay layer: moving it repaints
    # that layer only, not every point of the map (1-3 s at 100k points without a GPU,
    # during which the page cannot start the sound)
    plot.scatter("x", "y", source=playing, marker="circle", size=20, fill_alpha=0.0,
                 line_color="#d62728", line_width=3, level="overlay", name="map-playing")
    return plot, renderers, playing
