"""How the page draws the map: WebGL where a GPU draws it, else the plain canvas, with
its points painted into one pixel buffer (:data:`FAST_POINTS_JS`).

The map asks Bokeh for WebGL (``output_backend="webgl"``). Where the browser's WebGL
is a software rasteriser (SwiftShader in headless or GPU-less Chromium, Mesa's
llvmpipe on a remote desktop or a VM), every repaint of the map (a pan, a zoom, a
selection, the recolouring after a label) rasterises every point on the CPU: about
2.3 s at 100,000 points on a 2-core machine, where the plain canvas takes 0.3 s and,
while a person pans or zooms, draws a thinned-out sample (Bokeh's level of detail),
which it never does with WebGL.

The page template runs :data:`CHOOSE_DRAWING_JS` before BokehJS: it asks a throwaway
WebGL context which renderer it has and, for a software one, declines the WebGL
contexts BokehJS asks for later, so Bokeh falls back to the canvas, as it does in a
browser without WebGL. Adding ``?gl=webgl`` or ``?gl=canvas`` to the page's address
overrides the choice. ``document.documentElement.dataset.mapDrawing`` tells which
was taken and why.

On the canvas, :data:`FAST_POINTS_JS` (run right after BokehJS loads) paints batches
of filled markers itself, about four times faster than Bokeh's path per point, so a
repaint of 100,000 points is no longer the bulk of a label's recolouring.

Only pages that Bokeh's server renders from the document's template get these: in a
Jupyter notebook the map keeps WebGL and Bokeh's own painting.
"""
from __future__ import annotations

from functools import lru_cache

# renderer names of software rasterisers (Chromium, Firefox, Mesa, Windows' fallback)
CHOOSE_DRAWING_JS = """
(function () {
  "use strict";
  var SOFTWARE = /swiftshader|llvmpipe|softpipe|software|basic render|mesa offscreen/i;
  var asked = new URLSearchParams(window.location.search).get("gl");
  var getContext = HTMLCanvasElement.prototype.getContext;
  var useWebgl = null;
  function decide() {
    var renderer = "", why;
    if (asked === "webgl" || asked === "canvas") {
      useWebgl = asked === "webgl";
      why = "?gl=" + asked;
    } else {
      var gl = null;
      try { gl = getContext.call(document.createElement("canvas"), "webgl"); } catch (e) {}
      if (gl) {
        var info = gl.getExtension("WEBGL_debug_renderer_info");
        renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
        var lose = gl.getExtension("WEBGL_lose_context");
        if (lose) { lose.loseContext(); }
      }
      useWebgl = gl !== null && !SOFTWARE.test(renderer);
      why = gl === null ? "no WebGL" : renderer;
    }
    document.documentElement.dataset.mapDrawing = (useWebgl ? "webgl" : "canvas") + ": " + why;
  }
  HTMLCanvasElement.prototype.getContext = function (kind) {
    if (/webgl/i.test(String(kind))) {
      if (useWebgl === null) { decide(); }
      if (!useWebgl) { return null; }
    }
    return getContext.apply(this, arguments);
  };
})();
"""


# What the page's canvas paints the map's points with (not with WebGL). Bokeh's canvas
# path translates, traces and fills one path per point: ~250 ms for 100,000 points on
# a 2-core machine, paid by every repaint (a label's recolouring, a selection, a pan).
# This paints a batch of filled markers into one premultiplied pixel buffer instead
# (each point a precomputed coverage mask for its shape, size and sub-pixel place,
# blended in order) and draws that buffer with one drawImage: ~65 ms for the same
# points (benchmarks/bench_app.py measures both in one run). It takes over only what
# it paints as Bokeh would, up to antialiasing: circle, square, triangle and diamond
# markers, unrotated, filled, without outline or hatch, on a 2-D canvas with an
# axis-aligned transform. Anything else (a selection's outlines, the legend, SVG
# export, a batch spanning over 6 million device pixels) is painted by Bokeh as
# before, and so is everything after an error in the painter (logged to the console).
# ``?points=native`` turns it off; ``?points=fast`` uses it for batches of any size.
# ``window.hoverAudioPoints`` counts the batches each way and the time spent.
FAST_POINTS_JS = """
(function () {
  "use strict";
  var asked = new URLSearchParams(window.location.search).get("points");
  var stats = window.hoverAudioPoints = {fast: 0, native: 0, points: 0, ms: 0, why: ""};
  var Scatter;
  try { Scatter = Bokeh.require("models/glyphs/scatter").ScatterView; }
  catch (e) { stats.why = "no ScatterView: " + e; return; }
  if (asked === "native") { stats.why = "?points=native"; return; }
  var MIN_POINTS = asked === "fast" ? 1 : 16;  // smaller batches: not worth a buffer
  var MAX_PIXELS = 6e6;  // a larger canvas (a 4K screen) is left to Bokeh: 16 B a pixel
  var T = Math.sqrt(3) / 2, D = 1 / Math.sqrt(1.5 * 1.5 + 1);
  // signed distance (pixels) from a shape of half-size r to (x, y), y pointing down:
  // the paths of Bokeh's marker functions (defs.ts)
  var SHAPES = {
    circle: function (x, y, r) { return Math.sqrt(x * x + y * y) - r; },
    square: function (x, y, r) { return Math.max(Math.abs(x), Math.abs(y)) - r; },
    diamond: function (x, y, r) { return (1.5 * Math.abs(x) + Math.abs(y) - r) * D; },
    triangle: function (x, y, r) {  // equilateral, apex up, centred on its centroid
      var a = r / Math.sqrt(3);
      return Math.max(y - a, T * Math.abs(x) - y / 2 - a);
    },
  };
  var premultiplied = new Float32Array(0), scratch = null;
  // coverage masks ("stamps"): per shape, half-size (in quarter pixels) and where the
  // centre lies within its pixel (PHASES x PHASES places), with each row's covered span
  var PHASES = 8, stamps = {}, stampCount = 0;
  function stamp(name, shape, quarters, fx, fy) {
    var table = stamps[name] || (stamps[name] = []);
    var at = (quarters * PHASES + fx) * PHASES + fy, found = table[at];
    if (found !== undefined) { return found; }
    if (stampCount > 4096) { stamps = {}; stampCount = 0; table = stamps[name] = []; }
    var r = quarters / 4, reach = Math.ceil(r + 1), side = 2 * reach + 1;
    var cx = reach + (fx + 0.5) / PHASES, cy = reach + (fy + 0.5) / PHASES;
    var cover = new Float32Array(side * side), first = new Int32Array(side),
        last = new Int32Array(side);
    for (var y = 0; y < side; y++) {
      first[y] = side; last[y] = -1;
      for (var x = 0; x < side; x++) {
        var c = 0.5 - shape(x + 0.5 - cx, y + 0.5 - cy, r);
        if (c <= 0) { continue; }
        cover[y * side + x] = c >= 1 ? 1 : c;
        if (first[y] === side) { first[y] = x; }
        last[y] = x;
      }
    }
    found = table[at] = {cover: cover, first: first, last: last, reach: reach, side: side};
    stampCount += 1;
    return found;
  }
  // one stamp at pixel (ix, iy) of the premultiplied buffer buf (w x h), source-over
  function blend(buf, w, h, mask, ix, iy, red, green, blue, ea) {
    var cover = mask.cover, first = mask.first, last = mask.last, side = mask.side;
    var left = ix - mask.reach, top = iy - mask.reach;
    var ay = Math.max(0, top), by = Math.min(h, top + side);
    for (var y = ay; y < by; y++) {
      var row = y - top;
      var ax = Math.max(left + first[row], 0), bx = Math.min(left + last[row] + 1, w);
      var at = 4 * (y * w + ax), from = row * side + ax - left;
      for (var x = ax; x < bx; x++, at += 4, from++) {
        var c = cover[from], keep = 1 - ea * c;
        buf[at] = red * c + buf[at] * keep;
        buf[at + 1] = green * c + buf[at + 1] * keep;
        buf[at + 2] = blue * c + buf[at + 2] * keep;
        buf[at + 3] = ea * c + buf[at + 3] * keep;
      }
    }
  }
  var original = Scatter.prototype._paint;

  function paint(view, ctx, indices, data) {
    var n = indices.length;
    if (n < MIN_POINTS || typeof CanvasRenderingContext2D === "undefined" ||
        !(ctx instanceof CanvasRenderingContext2D) || ctx.globalAlpha !== 1 ||
        ctx.globalCompositeOperation !== "source-over") { return false; }
    var all = Object.assign({}, view, data);
    var sx = all.sx, sy = all.sy, size = all.size, angle = all.angle, marker = all.marker;
    var v = view.visuals;
    if (v.line.doit || v.hatch.doit || !angle.is_Scalar() || angle.value !== 0 ||
        !marker.is_Scalar() || !SHAPES.hasOwnProperty(marker.value)) { return false; }
    var name = marker.value, shape = SHAPES[name];
    var m = ctx.getTransform();
    if (m.b !== 0 || m.c !== 0 || m.a <= 0 || Math.abs(m.a - m.d) > 1e-9) { return false; }
    var colour = v.fill.fill_color, alpha = v.fill.fill_alpha;
    if (typeof colour.get(indices[0]) !== "number") { return false; }
    var t0 = performance.now();
    var W = ctx.canvas.width, H = ctx.canvas.height, scale = m.a;
    // the device-pixel box the points cover, within the canvas
    var x0 = W, y0 = H, x1 = 0, y1 = 0, k, i;
    for (k = 0; k < n; k++) {
      i = indices[k];
      var cx = m.a * sx[i] + m.e, cy = m.d * sy[i] + m.f, reach = size.get(i) * scale;
      if (!(cx + cy + reach > -Infinity && cx + cy + reach < Infinity)) { continue; }
      x0 = Math.min(x0, cx - reach); x1 = Math.max(x1, cx + reach);
      y0 = Math.min(y0, cy - reach); y1 = Math.max(y1, cy + reach);
    }
    x0 = Math.max(0, Math.floor(x0)); y0 = Math.max(0, Math.floor(y0));
    x1 = Math.min(W, Math.ceil(x1) + 1); y1 = Math.min(H, Math.ceil(y1) + 1);
    var w = x1 - x0, h = y1 - y0;
    if (w <= 0 || h <= 0) { done(n, t0); return true; }  // no point on the canvas
    if (w * h > MAX_PIXELS) { return false; }
    if (premultiplied.length < 4 * w * h) { premultiplied = new Float32Array(4 * w * h); }
    var buf = premultiplied;
    buf.fill(0, 0, 4 * w * h);
    for (k = 0; k < n; k++) {
      i = indices[k];
      var rgba = colour.get(i) >>> 0, ea = ((rgba & 255) / 255) * alpha.get(i);
      var quarters = Math.round(size.get(i) * scale * 2);  // half the size, in 1/4 pixels
      var px = m.a * sx[i] + m.e - x0, py = m.d * sy[i] + m.f - y0;
      if (!(ea > 0) || !(quarters > 0) || !isFinite(px + py)) { continue; }
      var ix = Math.floor(px), iy = Math.floor(py);
      var mask = stamp(name, shape, quarters, Math.floor((px - ix) * PHASES),
                       Math.floor((py - iy) * PHASES));
      blend(buf, w, h, mask, ix, iy, (rgba >>> 24) / 255 * ea,
            (rgba >>> 16 & 255) / 255 * ea, (rgba >>> 8 & 255) / 255 * ea, ea);
    }
    if (scratch === null) { scratch = document.createElement("canvas"); }
    if (scratch.width < w || scratch.height < h) {
      scratch.width = Math.max(scratch.width, w); scratch.height = Math.max(scratch.height, h);
    }
    var sctx = scratch.getContext("2d");
    var image = sctx.createImageData(w, h), out = image.data;
    for (var p = 0, end = 4 * w * h; p < end; p += 4) {
      var pa = buf[p + 3];
      if (pa <= 0) { continue; }
      var inv = 255 / pa;
      out[p] = buf[p] * inv; out[p + 1] = buf[p + 1] * inv; out[p + 2] = buf[p + 2] * inv;
      out[p + 3] = pa * 255;
    }
    sctx.putImageData(image, 0, 0);
    ctx.save();
    try {
      ctx.setTransform(1, 0, 0, 1, 0, 0);  // the clip stays: it is kept in device pixels
      ctx.drawImage(scratch, 0, 0, w, h, x0, y0, w, h);
    } finally { ctx.restore(); }
    done(n, t0);
    return true;
  }

  function done(n, t0) {  // a batch painted here
    stats.fast += 1; stats.points += n; stats.ms += performance.now() - t0;
  }

  var broken = false;
  Scatter.prototype._paint = function (ctx, indices, data) {
    var painted = false;
    if (!broken) {
      try { painted = paint(this, ctx, indices, data); }
      catch (e) {  // a BokehJS this was not written for: Bokeh paints from now on
        broken = true; stats.why = "failed, Bokeh paints: " + e;
        if (window.console) { console.error("hover-audio points painter:", e); }
      }
    }
    if (!painted) {
      stats.native += 1;
      original.call(this, ctx, indices, data);
    }
  };
  stats.why = asked === "fast" ? "?points=fast" : "batches of " + MIN_POINTS + "+ points";
})();
"""


@lru_cache(maxsize=1)
def page_template():
    """Bokeh's page template with :data:`CHOOSE_DRAWING_JS` run before BokehJS loads
    and :data:`FAST_POINTS_JS` right after it, before any document is built.

    Set it as a document's ``template``; Bokeh's server renders the page from it.
    """
    from bokeh.core.templates import get_env

    return get_env().from_string(
        '{% extends "file.html.jinja" %}\n'
        '{% block preamble %}<script>' + CHOOSE_DRAWING_JS + '</script>{% endblock %}\n'
        '{% block postamble %}<script>' + FAST_POINTS_JS + '</script>{% endblock %}')
