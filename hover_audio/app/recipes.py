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


def _hover_arguments(recipe: str, extra: tuple, sizes: dict) -> None:
    """hover's recipes take a vecnet (``active_learning``) and plot sizes: say plainly what
    becomes of them here, at the call rather than when the page opens."""
    if extra:
        raise TypeError(f"{recipe}(dataset, *, title=..., allow_paths=...): hover-audio's model "
                        "in the loop is built in (a logistic regression on the vectors), so "
                        f"hover's vecnet and callbacks are not taken; got {len(extra)} more "
                        "positional argument(s)")
    unknown = sorted(set(sizes) - {"height", "width"})
    if unknown:
        raise TypeError(f"{recipe}() got unexpected keyword argument(s) {unknown}")
    if sizes:
        import warnings

        warnings.warn(f"{recipe}: the page sizes itself to the window; {sorted(sizes)} "
                      "ignored", stacklevel=3)


def simple_annotator(dataset, *hover_args, title: str = "hover-audio annotator",
                     allow_paths=(), **sizes):
    """The annotator: a map you listen to, label boxes, search and tables.

    Parameters
    ----------
    dataset
        An :class:`~hover_audio.dataset.AudioDataset`; vectorized and mapped (PCA)
        first when it has no coordinates yet.
    allow_paths
        Folders whose files a search by typed path may read, besides the dataset's own.
    sizes
        hover's ``height``/``width``: ignored with a warning (the page fits the window).
    """
    _hover_arguments("simple_annotator", hover_args, sizes)
    _prepare(dataset)
    return annotator_handle(dataset, title=title, allow_paths=allow_paths)


def linked_annotator(dataset, *hover_args, title: str = "hover-audio linked annotator",
                     allow_paths=(), **sizes):
    """hover's linked annotator: the annotator with the search results view beside it."""
    _hover_arguments("linked_annotator", hover_args, sizes)
    _prepare(dataset)
    return annotator_handle(dataset, title=title, linked=True, allow_paths=allow_paths)


def active_learning(dataset, *hover_args, title: str = "hover-audio active learning",
                    allow_paths=(), **sizes):
    """The annotator with a model in the loop (hover's recipe name).

    A logistic regression on the scaled vectors, trained on ``train`` and scored
    on ``dev``: a Train button (and optional refit after each label action),
    predictions (label, probability, margin) as columns and as a view coloured
    by predicted label with alpha by confidence, "accept predictions above a
    threshold for the selection", and label-quality flags (suspect labels,
    near-duplicates, outliers) that filter the selection. hover's ``vecnet`` is not
    taken (a TypeError says so), nor plot sizes (a warning: the page fits the window).
    """
    _hover_arguments("active_learning", hover_args, sizes)
    _prepare(dataset)
    return annotator_handle(dataset, title=title, panels=(ModelPanel,), allow_paths=allow_paths)
