"""hover-compatible recipes: functions of a dataset that return a Bokeh app handle.

A handle is a function ``handle(doc)``; use it with ``bokeh serve`` (call it on
``curdoc()``), an embedded ``bokeh.server.server.Server({'/app': handle})``, or
Jupyter's ``bokeh.io.show(handle, notebook_url=...)``. Playback works in all three.
"""
from __future__ import annotations

from .explorer.annotator import annotator_handle
from .explorer.model_panel import ModelPanel


def _prepare(dataset) -> None:
    """Make sure the map has coordinates: vectors, then a layout, as hover requires."""
    if dataset.vectors is None:
        dataset.vectorize(progress=False)
    if "embed_2d_0" not in dataset.columns:
        dataset.compute_nd_embedding(method="pca")


def simple_annotator(dataset, title: str = "hover-audio annotator", allow_paths=()):
    """The annotator: a map you listen to, label boxes, search and tables.

    Parameters
    ----------
    dataset
        An :class:`~hover_audio.dataset.AudioDataset`; vectorized and mapped (PCA)
        first when it has no coordinates yet.
    allow_paths
        Folders whose files a search by typed path may read, besides the dataset's own.
    """
    _prepare(dataset)
    return annotator_handle(dataset, title=title, allow_paths=allow_paths)


def linked_annotator(dataset, title: str = "hover-audio linked annotator", allow_paths=()):
    """hover's linked annotator: the annotator with the search results view beside it."""
    _prepare(dataset)
    return annotator_handle(dataset, title=title, linked=True, allow_paths=allow_paths)


def active_learning(dataset, title: str = "hover-audio active learning", allow_paths=()):
    """The annotator with a model in the loop (hover's recipe name).

    A logistic regression on the scaled vectors, trained on ``train`` and scored
    on ``dev``: a Train button (and optional refit after each label action),
    predictions (label, probability, margin) as columns and as a view coloured
    by predicted label with alpha by confidence, "accept predictions above a
    threshold for the selection", and label-quality flags (suspect labels,
    near-duplicates, outliers) that filter the selection.
    """
    _prepare(dataset)
    return annotator_handle(dataset, title=title, panels=(ModelPanel,), allow_paths=allow_paths)
