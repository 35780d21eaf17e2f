"""The annotator page: one Bokeh document per browser tab over one shared dataset.

- ``annotator``: the document's models and callbacks (map, playback, labeling, search, tables).
- ``page_data``: the page's columns derived from the dataset, and the patches that keep them true.
- ``plot``, ``widgets``: the map figure and the controls; ``page_layout``: how they are
  arranged (the map and labeling controls, the selection table right under them, then the
  clip panel beside search).
- ``playback_js``: the page-side code that asks the server for a row's audio and plays it.
- ``model_panel``: the model-in-the-loop controls of the active-learning recipe.
"""
