"""hover's module path for recipes (``hover.recipes``): aliases of ``hover_audio.app.recipes``.

A recipe is a function of a dataset that returns a Bokeh app handle ``handle(doc)``;
use it with ``bokeh serve`` (call it on ``curdoc()``), an embedded
``bokeh.server.server.Server({'/app': handle})``, or Jupyter's
``bokeh.io.show(handle, notebook_url=...)``.
"""
from ..app.recipes import active_learning, linked_annotator, simple_annotator

__all__ = ["simple_annotator", "linked_annotator", "active_learning"]
