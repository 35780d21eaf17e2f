"""Layer 6, app: what people open, the annotator (Bokeh), its recipes, server and CLI.

- ``explorer/``: one annotator document (``annotator``), its page data, plot,
  widgets, page-side playback code and the model panel.
- ``recipes``: hover's recipes (``simple_annotator``, ``linked_annotator``,
  ``active_learning``); ``server``: serving them; ``cli``: ``hover-audio``.

The top layer: it may use every other; nothing imports it but hover's alias paths.
"""
