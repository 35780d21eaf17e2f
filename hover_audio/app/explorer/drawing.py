"""How the page draws the map: WebGL where a GPU draws it, the plain canvas where not.

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

Only pages that Bokeh's server renders from the document's template get this: in a
Jupyter notebook the map keeps WebGL.
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


@lru_cache(maxsize=1)
def page_template():
    """Bokeh's page template with :data:`CHOOSE_DRAWING_JS` run before BokehJS loads.

    Set it as a document's ``template``; Bokeh's server renders the page from it.
    """
    from bokeh.core.templates import get_env

    return get_env().from_string(
        '{% extends "file.html.jinja" %}\n'
        '{% block preamble %}<script>' + CHOOSE_DRAWING_JS + '</script>{% endblock %}')
