"""The map's points painter (``drawing.FAST_POINTS_JS``) paints what Bokeh's canvas
paints: the same page drawn with it and without it (``?points=native``), in headless
Chromium, differs only in antialiasing, for every marker the map uses, with the
selection's outlines drawn over it; the annotator's page uses it."""
from __future__ import annotations

import io

import numpy as np
import pytest

from hover_audio.app.explorer.page_data import MARKERS

from .test_annotator import open_app, select_rows

STATS_JS = "() => window.hoverAudioPoints"
READY_JS = "() => window.Bokeh && Bokeh.documents.length && Bokeh.documents[0].is_idle"


def standalone_page(folder, points: int = 400) -> str:
    """A standalone page (inline BokehJS, the annotator's template): one renderer per
    marker the map uses, ``points`` points each, sizes, colours and alphas per point,
    some points half off the plot, a scalar-coloured renderer and one coloured by a
    colour mapper."""
    from bokeh.embed import file_html
    from bokeh.models import ColumnDataSource
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure
    from bokeh.resources import INLINE
    from bokeh.transform import linear_cmap

    from hover_audio.app.explorer.drawing import page_template

    rng = np.random.default_rng(0)
    plot = figure(width=700, height=500, x_range=(0, 1), y_range=(0, 1), name="map",
                  toolbar_location=None)
    plot.axis.visible = plot.grid.visible = False
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    for shape in dict.fromkeys(MARKERS.values()):
        data = {"x": rng.uniform(-0.02, 1.02, points), "y": rng.uniform(-0.02, 1.02, points),
                "size": rng.uniform(4, 16, points),
                "color": [palette[i] for i in rng.integers(0, len(palette), points)],
                "alpha": rng.uniform(0.3, 1.0, points)}
        plot.scatter("x", "y", source=ColumnDataSource(data), marker=shape, size="size",
                     fill_color="color", fill_alpha="alpha", line_color=None)
    plot.scatter(rng.uniform(0, 1, 50), rng.uniform(0, 1, 50), size=10, color="#444444",
                 alpha=0.6, line_color=None)
    # colours from a colour mapper, as the finder's map has them (its NaN colour too)
    score = rng.uniform(-1, 1, points)
    score[:20] = np.nan
    plot.scatter("x", "y", size=6, line_color=None,
                 color=linear_cmap("score", Viridis256, -1.0, 1.0, nan_color="#dddddd"),
                 source=ColumnDataSource({"x": rng.uniform(0, 1, points),
                                          "y": rng.uniform(0, 1, points), "score": score}))
    path = folder / "points.html"
    path.write_text(file_html(plot, INLINE, "points", template=page_template()))
    return path.as_uri()


def map_pixels(page) -> np.ndarray:
    """The map's canvas as RGB pixels (a screenshot of the plot's element)."""
    from PIL import Image

    shot = page.locator(".bk-Figure, .bk-Plot").first.screenshot()
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=float)


def standalone_shot(browser, url: str, pixel_ratio: int = 1, before: str | None = None):
    """``(pixels, painter counts)`` of the standalone page at ``url`` in a new page;
    ``before``: a script run before the page's own."""
    page = browser.new_page(viewport={"width": 900, "height": 700},
                            device_scale_factor=pixel_ratio)
    try:
        if before is not None:
            page.add_init_script(before)
        page.goto(url)
        page.wait_for_function(READY_JS, timeout=30_000)
        page.wait_for_timeout(300)
        return map_pixels(page), page.evaluate(STATS_JS)
    finally:
        page.close()

def compare(fast: np.ndarray, native: np.ndarray, ink: float) -> None:
    """The two pictures differ only at edges; at least ``ink`` of the pixels are drawn on."""
    assert fast.shape == native.shape
    inked_fast, inked_native = (fast < 250).any(-1), (native < 250).any(-1)
    assert inked_native.mean() > ink, "nothing drawn: the comparison would be empty"
    # the same pixels are inked (antialiased edges may differ by a pixel's share)
    assert abs(inked_fast.mean() - inked_native.mean()) < 0.1 * inked_native.mean()
    difference = np.abs(fast - native).max(-1)
    assert np.median(difference[inked_native]) <= 3, np.median(difference[inked_native])
    assert (difference > 48).mean() < 0.01, (difference > 48).mean()  # edges only
    assert difference.mean() < 40 * ink, difference.mean()


@pytest.mark.parametrize("pixel_ratio", [1, 2])  # 2: a high-density screen
def test_every_marker_is_painted_as_bokeh_paints_it(browser, tmp_path, pixel_ratio):
    url = standalone_page(tmp_path)
    pictures, counts = {}, {}
    for query in ("?points=fast", "?points=native"):
        pictures[query], counts[query] = standalone_shot(browser, url + query, pixel_ratio)
    fast, native = counts["?points=fast"], counts["?points=native"]
    assert fast["fast"] >= 6 and fast["points"] >= 5 * 400 + 50, fast  # every renderer
    assert native["fast"] == 0 and native["why"] == "?points=native", native
    compare(pictures["?points=fast"], pictures["?points=native"], ink=0.05)


@pytest.mark.parametrize("selection", [False, True])
def test_the_annotator_paints_its_points_with_it(browser, server, selection):
    pictures, counts = {}, {}
    for query in ("", "?points=native"):
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        try:
            open_app(page, server.url + query)
            if selection:  # the selected points get Bokeh's outlines, the others fade
                select_rows(page, [0, 3, 30, 31])
                page.wait_for_timeout(300)
            pictures[query], counts[query] = map_pixels(page), page.evaluate(STATS_JS)
        finally:
            page.close()
    assert counts[""]["fast"] >= 2, counts[""]  # the raw and train points (35 and 25)
    assert counts[""]["why"] == "batches of 16+ points", counts[""]
    if selection:  # 4 selected points with outlines: Bokeh's own path
        assert counts[""]["native"] >= 1, counts[""]
    assert counts["?points=native"]["fast"] == 0
    compare(pictures[""], pictures["?points=native"], ink=0.01)  # 60 points


def test_an_error_in_the_painter_leaves_the_painting_to_bokeh(browser, tmp_path):
    """A browser (or a BokehJS) where the painter fails: every point is still drawn."""
    url = standalone_page(tmp_path)
    pictures, counts = {}, {}
    # only the painter creates ImageData on this page
    breaking = ("CanvasRenderingContext2D.prototype.createImageData = "
                "function () { throw new Error('no ImageData here'); };")
    for query, broken in (("?points=fast", True), ("?points=native", False)):
        pictures[broken], counts[broken] = standalone_shot(
            browser, url + query, before=breaking if broken else None)
    assert counts[True]["why"].startswith("failed, Bokeh paints: Error: no ImageData here")
    assert counts[True]["fast"] == 0 and counts[True]["native"] >= 6, counts[True]
    assert np.array_equal(pictures[True], pictures[False])  # Bokeh's own painting, all of it
