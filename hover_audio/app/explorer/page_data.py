"""The page's view of the dataset: one ColumnDataSource, and patches that keep it true.

The dataset is the single source of truth. A session builds its source once from
the dataset, then applies each :class:`~hover_audio.dataset.ChangeEvent` as a
``source.patch`` of the changed rows only (O(k) bytes for k rows).
"""
from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import numpy as np

from ...audio.sources import SourceError, parse_key
from ...common.values import is_missing
from ...dataset.schema import ABSTAIN, AUDIO, LABEL, SUBSET, TRANSCRIPT, range_columns
from ...dataset.tag_suggestions import suggested_pairs

ABSTAIN_COLOR = "#b4b4b4"
# colour-blind-friendly first (Okabe-Ito), then Tableau-style extras; a label keeps
# its colour for the life of a workspace because label_order only ever grows. No greys:
# at 7 px a grey point reads as an unlabeled (ABSTAIN) one (the 12th was #7f7f7f)
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
    "#8c564b", "#17becf", "#bcbd22", "#6a3d9a", "#9467bd", "#e377c2", "#2ca02c", "#ff7f0e",
    "#1f77b4", "#d62728", "#393b79", "#637939",
)
MARKERS = {"raw": "circle", "train": "square", "dev": "triangle", "test": "diamond"}
BASE_SIZE = 7.0


def label_color(label: str, label_order: list[str]) -> str:
    """The stable colour of a label (grey for ABSTAIN)."""
    if label == ABSTAIN or label not in label_order:
        return ABSTAIN_COLOR
    return PALETTE[label_order.index(label) % len(PALETTE)]


def packed(colour: str) -> int:
    """``"#rrggbb"`` as the number ``0xRRGGBBFF``, the form the map's points carry.

    Bokeh reads such numbers as colours without parsing a CSS string per point, which
    at 100,000 points took 50 ms of each recolouring in the browser.

    >>> hex(packed("#0072B2"))
    '0x72b2ff'
    """
    return int(colour[1:7], 16) << 8 | 0xFF


def point_colors(labels, label_order: list[str]) -> np.ndarray:
    """The points' colours (see :func:`packed`) for their labels, as uint32."""
    colours = {label: packed(label_color(label, label_order)) for label in set(labels)}
    return np.fromiter((colours[label] for label in labels), dtype=np.uint32,
                       count=len(labels))


def display_name(key: str) -> str:
    """A short name for a clip key: the file name (URL-decoded) plus its range."""
    base, _, fragment = key.partition("#t=")
    path = urlsplit(base).path if "://" in base else base
    name = unquote(os.path.basename(path.rstrip("/"))) or base
    return f"{name} [{fragment}]" if fragment else name


def xy(dataset, dimension: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The map coordinates of each row (NaN where there are none yet)."""
    names = [f"embed_{dimension}d_{i}" for i in range(2)]
    if all(name in dataset.columns for name in names):
        return tuple(dataset.column(name).astype(float) for name in names)
    missing = np.full(len(dataset), np.nan)
    return missing, missing.copy()


def failed_mask(dataset) -> np.ndarray:
    """Whether each row's clip could not be read (it has a ``vector_error``)."""
    if "vector_error" not in dataset.columns:
        return np.zeros(len(dataset), dtype=bool)
    return np.array([not is_missing(value) and str(value) != ""
                     for value in dataset.column("vector_error")], dtype=bool)


def failed_note(dataset, most: int = 40) -> tuple[str, str]:
    """The page's line on clips that could not be read (left off the map), and the
    keys and reasons of (at most ``most`` of) them, for its tooltip; ``("", "")`` if none.

    >>> from hover_audio import AudioDataset
    >>> import pandas as pd
    >>> ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["/a.wav", "/b.wav"],
    ...     "label": ["ABSTAIN"] * 2, "SUBSET": ["raw"] * 2, "vector_error": [None, "bad"]}))
    >>> failed_note(ds)
    ('1 clip(s) could not be read and are not on the map', '/b.wav: bad')
    """
    rows = np.flatnonzero(failed_mask(dataset))
    if not len(rows):
        return "", ""
    keys, errors = dataset.keys, dataset.column("vector_error")
    lines = [f"{keys[i]}: {errors[i]}" for i in rows[:most]]
    if len(rows) > most:
        lines.append(f"\u2026 and {len(rows) - most} more (their vector_error column)")
    return f"{len(rows)} clip(s) could not be read and are not on the map", "\n".join(lines)


def default_marks(dataset) -> dict:
    """Size, alpha and search score of every point when no search is shown.

    Points whose clip failed are transparent: they have no place on the map.
    """
    failed = failed_mask(dataset)
    return {"size": np.full(len(dataset), BASE_SIZE), "alpha": np.where(failed, 0.0, 0.85),
            "score": np.full(len(dataset), np.nan)}


HELD_OUT = ("dev", "test")  # what a model is judged on: a sweeping selection leaves them


def rows_to_change(subsets, rows) -> tuple[list[int], str]:
    """The rows of a selection that a label or a move changes, and a note of those it leaves.

    A selection that mixes held-out rows (``HELD_OUT``: dev and test, what the model is
    judged on) with others changes only the others: a lasso that sweeps across the test
    set must not relabel it or move it into train. A selection of held-out rows alone
    is changed as asked.

    Examples
    --------
    >>> subsets = np.array(["raw", "test", "train", "dev"])
    >>> rows_to_change(subsets, [0, 1, 2, 3])
    ([0, 2], '; left 2 dev/test clip(s) as they were (select them alone to change them)')
    >>> rows_to_change(subsets, [1, 3])
    ([1, 3], '')
    """
    rows = [int(row) for row in rows]
    held = np.isin(np.asarray(subsets, dtype=object)[rows], HELD_OUT) if rows else []
    if not len(rows) or np.all(held) or not np.any(held):
        return rows, ""
    kept = [row for row, out in zip(rows, held) if not out]
    return kept, (f"; left {len(rows) - len(kept)} dev/test clip(s) as they were (select "
                  "them alone to change them)")


def clip_durations(table) -> np.ndarray:
    """Seconds per row: a ``duration`` column, else the range (columns or ``#t=``), else NaN."""
    if "duration" in table.columns:
        return table["duration"].to_numpy(dtype=float)
    ranges = range_columns(table, ("start", "end"))
    starts = ranges["start"] or [None] * len(table)
    ends = ranges["end"] or [None] * len(table)
    durations = np.full(len(table), np.nan)
    for row, (key, start, end) in enumerate(zip(table[AUDIO], starts, ends)):
        if "#t=" not in key and (end is None or end != end):
            continue
        try:
            ref = parse_key(key, start, end)
        except SourceError:
            continue
        if ref.end is not None:
            durations[row] = ref.end - (ref.start or 0.0)
    return durations


def source_data(dataset) -> dict:
    """The columns of the page's source, derived from the dataset table."""
    table = dataset.to_pandas()
    order = dataset.label_order
    labels = table[LABEL].astype(str).tolist()
    x, y = xy(dataset)
    durations = clip_durations(table)
    return {
        "index": np.arange(len(table)),
        "x": x,
        "y": y,
        "label": labels,
        "subset": table[SUBSET].astype(str).tolist(),
        "color": point_colors(labels, order),
        "name": [display_name(key) for key in table[AUDIO].astype(str)],
        "duration": [f"{d:.2f} s" if np.isfinite(d) else "?" for d in durations],
        **default_marks(dataset),
    }


def label_patches(dataset, positions, columns=(LABEL, SUBSET)) -> dict:
    """``source.patch`` arguments for the changed ``columns`` of ``positions`` only."""
    order = dataset.label_order
    positions = [int(p) for p in positions]
    patches = {}
    if LABEL in columns:
        labels = dataset.column(LABEL)[positions]
        patches["label"] = [(p, str(label)) for p, label in zip(positions, labels)]
        patches["color"] = list(zip(positions, point_colors(
            [str(label) for label in labels], order).tolist()))
    if SUBSET in columns:
        subsets = dataset.column(SUBSET)[positions]
        patches["subset"] = [(p, str(subset)) for p, subset in zip(positions, subsets)]
    return patches


def recolour_patches(labels, label_order, before) -> dict:
    """``source.patch`` of the colour of every row whose label gained a colour since
    ``before`` (the label order the page's colours came from): a row of a label not yet
    in the order was grey, and stays so unless recoloured when the label gets its colour.

    >>> recolour_patches(["owl", "cat", "owl"], ["cat", "owl"], ["cat"])
    {'color': [(0, 3869180159), (2, 3869180159)]}
    """
    new = set(label_order) - set(before)
    rows = [row for row, label in enumerate(labels) if label in new]
    if not rows:
        return {}
    colours = point_colors([labels[row] for row in rows], list(label_order)).tolist()
    return {"color": list(zip(rows, colours))}


def population_data(dataset) -> dict:
    """The population table: label (with its colour) x subset counts and totals."""
    table = dataset.population()
    order = dataset.label_order
    data = {"label": list(table.index),
            "color": [label_color(label, order) for label in table.index]}
    for subset in table.columns:
        data[subset] = table[subset].tolist()
    data["total"] = table.sum(axis=1).tolist()
    return data


def _tag_cell(tags, suggested, row: int) -> str:
    """A row's tags, then its suggested ones: "applause, crowd (+ rain 0.61)"."""
    text = "" if tags is None or is_missing(tags[row]) else str(tags[row]).replace(";", ", ")
    pairs = [] if suggested is None else suggested_pairs(suggested[row])
    if pairs:
        text += (" " if text else "") + "(+ " + ", ".join(f"{t} {p}" for t, p in pairs) + ")"
    return text


def selection_data(dataset, source, rows) -> dict:
    """The selection table: the selected rows' names, labels, subsets and search scores."""
    rows = [int(i) for i in rows]
    names, scores = source.data["name"], source.data["score"]
    labels, subsets = dataset.column(LABEL), dataset.column(SUBSET)
    texts = dataset.column(TRANSCRIPT) if TRANSCRIPT in dataset.columns else None
    tags = dataset.column("tags") if "tags" in dataset.columns else None
    suggested = dataset.column("suggested_tags") if "suggested_tags" in dataset.columns else None
    return {
        "index": rows,
        "name": [names[i] for i in rows],
        "label": [str(labels[i]) for i in rows],
        "subset": [str(subsets[i]) for i in rows],
        "score": [float(scores[i]) for i in rows],
        "transcript": ["" if texts is None or is_missing(texts[i]) else str(texts[i])
                       for i in rows],
        "tags": [_tag_cell(tags, suggested, i) for i in rows],
    }
