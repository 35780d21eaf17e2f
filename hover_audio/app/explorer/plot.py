"""The map: one scatter renderer per subset over the shared source, with its tools."""
from __future__ import annotations

from bokeh.events import MouseLeave, MouseMove
from bokeh.models import (
    BoxSelectTool, CDSView, ColumnDataSource, CustomJS, GroupFilter, LassoSelectTool, Legend,
    LegendItem, PanTool, PolySelectTool, ResetTool, TapTool, WheelZoomTool,
)
from bokeh.plotting import figure

from ...dataset.schema import SUBSETS
from .page_data import MARKERS
from .playback_js import NEAREST_JS

TOOLTIP_FIELDS = [("file", "name"), ("label", "label"), ("subset", "subset"),
                  ("duration", "duration")]
# The tooltip names the point nearest the pointer, the one a rest there plays (the same
# `nearest` as playback). Bokeh's HoverTool lists every point under the cursor, or with
# `limit=1` the first of them by row, which was often another clip than the one heard.
# Text only (textContent): file names and labels are never markup. One update per frame.
# It stays inside the map (and the window): near the map's right or bottom edge it shows
# left of or above the pointer, and a long file name wraps rather than being cut off.
TOOLTIP_JS = NEAREST_JS + """
if (!window.hoverAudioPointer) {  // where the pointer is on the page (Bokeh gives the canvas')
    window.hoverAudioPointer = null;
    document.addEventListener("pointermove", (event) => {
        window.hoverAudioPointer = [event.clientX, event.clientY];
    }, {capture: true, passive: true});
}
let tip = window.hoverAudioTip;
if (!tip) {
    tip = window.hoverAudioTip = document.createElement("div");
    tip.className = "hover-audio-tooltip";
    Object.assign(tip.style, {position: "fixed", zIndex: "1000", pointerEvents: "none",
        background: "#fff", border: "1px solid #999", borderRadius: "4px", padding: "4px 8px",
        font: "12px sans-serif", whiteSpace: "pre-wrap", overflowWrap: "anywhere",
        boxSizing: "border-box", boxShadow: "0 1px 4px rgba(0,0,0,.25)", display: "none"});
    document.body.appendChild(tip);
}
window.hoverAudioTipAt = [cb_obj.x, cb_obj.y];
if (window.hoverAudioTipFrame) { return; }
window.hoverAudioTipFrame = requestAnimationFrame(() => {
    window.hoverAudioTipFrame = 0;
    const [x, y] = window.hoverAudioTipAt;
    const row = nearest(x, y);
    const pointer = window.hoverAudioPointer;
    if (row < 0 || !pointer) { tip.style.display = "none"; return; }
    const data = source.data;
    tip.textContent = fields.map(([title, column]) => title + ": " + data[column][row]).join("\\n");
    tip.dataset.row = String(row);
    place(tip, pointer, bounds());
});
// the box the tooltip stays in: the map's canvas, within the window
function bounds() {
    const root = document.documentElement;
    const box = {left: 0, top: 0, right: root.clientWidth || window.innerWidth,
                 bottom: root.clientHeight || window.innerHeight};
    const index = window.Bokeh && Bokeh.index;
    const view = index && typeof index.find_one === "function" ? index.find_one(plot) : null;
    const canvas = view && view.canvas_view && view.canvas_view.el;
    if (canvas) {
        const rect = canvas.getBoundingClientRect();
        box.left = Math.max(box.left, rect.left); box.top = Math.max(box.top, rect.top);
        box.right = Math.min(box.right, rect.right); box.bottom = Math.min(box.bottom, rect.bottom);
    }
    return box;
}
// below right of the pointer; left of it or above it where it would run out of the box;
// a tooltip wider than the box wraps, one taller than it starts at the box's top
function place(tip, pointer, box) {
    const gap = 14, room = Math.max(80, box.right - box.left);
    tip.style.maxWidth = room + "px";
    tip.style.left = "0px"; tip.style.top = "0px";
    tip.style.display = "block";
    const width = tip.offsetWidth, height = tip.offsetHeight;
    let left = pointer[0] + gap, top = pointer[1] + gap;
    if (left + width > box.right) { left = pointer[0] - gap - width; }
    if (top + height > box.bottom) { top = pointer[1] - gap - height; }
    left = Math.max(box.left, Math.min(left, box.right - width));
    top = Math.max(box.top, Math.min(top, box.bottom - height));
    tip.style.left = left + "px";
    tip.style.top = top + "px";
}
"""
# a patch of the shown row (its duration, known once it played; its label) shows at once
REFRESH_TOOLTIP_JS = """
const tip = window.hoverAudioTip;
if (!tip || tip.style.display !== "block") { return; }
const row = Number(tip.dataset.row), data = source.data;
tip.textContent = fields.map(([title, column]) => title + ": " + data[column][row]).join("\\n");
"""
HIDE_TOOLTIP_JS = """
if (window.hoverAudioTip) { window.hoverAudioTip.style.display = "none"; }
if (window.hoverAudioTipFrame) { cancelAnimationFrame(window.hoverAudioTipFrame);
                                 window.hoverAudioTipFrame = 0; }
"""


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
    # above the map, outside its data area: inside it the (opaque) legend hid a cluster of
    # points from hovering, and a tap meant for them hid a subset instead
    legend = Legend(items=items, click_policy="hide", orientation="horizontal",
                    title="subset (click to hide)", location="left",
                    margin=2, padding=4, spacing=8, border_line_color=None, name="map-legend")
    plot.add_layout(legend, "above")
    # one point's tooltip, never a list of every point under the cursor (which on a dense
    # map of 100k clips is hundreds of rows rebuilt on every move)
    plot.js_on_event(MouseMove, CustomJS(args=dict(
        source=source, plot=plot, renderers=renderers, fields=TOOLTIP_FIELDS), code=TOOLTIP_JS))
    plot.js_on_event(MouseLeave, CustomJS(code=HIDE_TOOLTIP_JS))
    source.js_on_change("patching", CustomJS(args=dict(source=source, fields=TOOLTIP_FIELDS),
                                             code=REFRESH_TOOLTIP_JS))
    playing = ColumnDataSource({"x": [], "y": []}, name="playing")
    # the ring on the point being played lives on the overlay layer: moving it repaints
    # that layer only, not every point of the map (1-3 s at 100k points without a GPU,
    # during which the page cannot start the sound)
    plot.scatter("x", "y", source=playing, marker="circle", size=20, fill_alpha=0.0,
                 line_color="#d62728", line_width=3, level="overlay", name="map-playing")
    return plot, renderers, playing
