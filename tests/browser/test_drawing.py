"""The map draws with WebGL only where a GPU draws it: headless Chromium without a GPU
(SwiftShader, a software rasteriser) gets the plain canvas, ``?gl=`` overrides, and
either way the points are on screen in their label's colour."""
from __future__ import annotations

import io

import numpy as np
import pytest

from .test_annotator import POINT_JS, lonely_point, open_app, source

# the map's plot view: does its canvas hold Bokeh's WebGL context?
USES_WEBGL_JS = """() => { const doc = Bokeh.documents[0]; const plot = doc.get_model_by_name('map');
  function find(v, id) { if (v.model.id === id) return v;
    for (const c of (v.child_views || [])) { const f = find(c, id); if (f) return f; } return null; }
  let v = null; for (const r of Bokeh.index.roots) { v = find(r, plot.id); if (v) break; }
  return v.canvas_view.webgl !== null; }"""


def drawn_colour(page, row: int) -> np.ndarray:
    """The mean RGB of the 3x3 pixels at row ``row``'s point on screen."""
    from PIL import Image

    point = page.evaluate(POINT_JS, row)
    shot = page.screenshot(clip={"x": point["x"] - 1.5, "y": point["y"] - 1.5,
                                 "width": 3, "height": 3})
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=float).reshape(-1, 3).mean(0)


def expected_colour(clips: dict, row: int) -> np.ndarray:
    """The point's colour at its alpha over the white map."""
    colour = int(clips["color"][row])  # 0xRRGGBBAA
    rgb = np.array([colour >> shift & 0xFF for shift in (24, 16, 8)], dtype=float)
    alpha = float(clips["alpha"][row])
    return alpha * rgb + (1 - alpha) * 255.0


@pytest.mark.parametrize("query, webgl, why", [
    ("", False, "SwiftShader"),  # the tests' Chromium runs with --disable-gpu
    ("?gl=webgl", True, "?gl=webgl"),
    ("?gl=canvas", False, "?gl=canvas"),
])
def test_the_map_draws_with_webgl_only_on_a_gpu(page, server, query, webgl, why):
    open_app(page, server.url + query)
    choice = page.evaluate("() => document.documentElement.dataset.mapDrawing")
    assert choice.startswith("webgl: " if webgl else "canvas: "), choice
    assert why in choice, choice  # it says why: the renderer it found, or the override
    assert page.evaluate(USES_WEBGL_JS) is webgl
    clips = source(page, "clips")
    abstain = [i for i, label in enumerate(clips["label"]) if label == "ABSTAIN"]
    row = lonely_point(page, exclude=abstain)  # a labeled point, in a colour of its own
    page.wait_for_timeout(300)
    drawn, wanted = drawn_colour(page, row), expected_colour(clips, row)
    # drawn in its label's colour (antialiasing and colour management aside), not left white
    assert np.abs(drawn - wanted).max() < 40, (drawn, wanted, clips["color"][row])
    assert np.abs(drawn - 255.0).max() > 60, drawn
