"""The figures of ``hover-audio compare``: a terminal table, JSON, a PNG or HTML chart."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

METRICS = [("precision_at_10", "precision@10", 1.0), ("knn_accuracy", "kNN accuracy", 1.0),
           ("effort_accuracy", "labels right", 1.0)]
CEILING_SHOWN = 0.995  # a precision ceiling below this is drawn and noted
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"]


def text_table(table: pd.DataFrame) -> str:
    """The comparison as aligned text, best precision@10 first."""
    if table.empty:
        return "(nothing to compare)"
    shown = table.sort_values("precision_at_10", ascending=False).copy()
    shown["ms_per_clip"] = shown.pop("seconds_per_clip") * 1000.0
    formats = {"precision_at_10": "{:.3f}", "precision_ceiling": "{:.3f}",
               "knn_accuracy": "{:.3f}", "actions_per_100": "{:.1f}",
               "effort_accuracy": "{:.3f}", "ms_per_clip": "{:.2f}"}
    for column, pattern in formats.items():
        shown[column] = [("-" if value != value else pattern.format(value))
                         for value in shown[column]]
    text = shown.to_string(index=False)
    if _ceilings(table, table.index):
        text += ("\nprecision_ceiling: the most precision@10 can be with these labels, below 1 "
                 "when a label has fewer than 11 clips (a clip of a label with n clips has at "
                 "most n - 1 neighbours of its label); read precision@10 against it")
    if (shown["aspect"] == "labels").any():
        text += ("\nlabels: a distance learned from your labels (search and map aspect "
                 "\"labels\"); learned from half of each label's clips, measured on the "
                 "other half")
    return text


def to_json(table: pd.DataFrame) -> str:
    """One JSON object per row, NaN as null."""
    records = json.loads(table.to_json(orient="records"))
    return json.dumps(records, indent=1)


def check_plot_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path; ValueError unless it ends in ``.png`` or ``.html``."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".png"):
        raise ValueError(f"{path}: write the plot as .png or .html")
    return path


def write_plot(table: pd.DataFrame, path: str | os.PathLike, title: str = "") -> Path:
    """Write the figures as grouped bars: ``.html`` (Bokeh) or ``.png`` (Pillow)."""
    path = check_plot_path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f"{row.vectorizer} / {row.aspect}" for row in table.itertuples()]
    if suffix == ".html":
        _write_html(table, names, path, title)
    else:
        _write_png(table, names, path, title)
    return path


def _write_html(table, names, path, title) -> None:
    from bokeh.embed import file_html
    from bokeh.models import ColumnDataSource, FactorRange
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    factors = [(name, label) for name in names for _, label, _ in METRICS]
    values = [float(table.iloc[at][column]) if table.iloc[at][column] == table.iloc[at][column]
              else 0.0 for at in range(len(names)) for column, _, _ in METRICS]
    colors = [COLORS[i % len(METRICS)] for i in range(len(factors))]
    source = ColumnDataSource({"x": factors, "value": values, "color": colors})
    plot = figure(x_range=FactorRange(*factors), y_range=(0, 1.05), height=420,
                  width=max(500, 90 * len(factors)), title=title or "hover-audio compare",
                  tools="hover,save", tooltips=[("", "@x"), ("value", "@value{0.000}")])
    plot.vbar(x="x", top="value", width=0.9, color="color", source=source)
    ceilings = _ceilings(table, names)  # where precision@10 could reach, when below 1
    if ceilings:
        plot.scatter([(name, METRICS[0][1]) for name, _ in ceilings],
                     [value for _, value in ceilings], marker="dash", size=26, color="black",
                     line_width=2, legend_label="precision@10 ceiling (class sizes)")
    plot.xaxis.major_label_orientation = 1.0
    path.write_text(file_html(plot, INLINE, title or "hover-audio compare"), encoding="utf-8")


def _ceilings(table, names) -> list[tuple[str, float]]:
    """``(name, precision ceiling)`` of the rows whose ceiling is below 1 (what the
    table notes and the pictures mark)."""
    if "precision_ceiling" not in table:
        return []
    return [(name, float(value)) for name, value in zip(names, table["precision_ceiling"])
            if value == value and value < CEILING_SHOWN]


def _write_png(table, names, path, title) -> None:
    from PIL import Image, ImageDraw

    bar, gap, left, top, height = 22, 26, 60, 50, 300
    width = left + len(names) * (len(METRICS) * bar + gap) + 220
    image = Image.new("RGB", (max(width, 520), top + height + 150), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 12), title or "hover-audio compare", fill="black")
    ceilings = dict(_ceilings(table, names))
    for tick in range(0, 11, 2):
        y = top + height - tick / 10 * height
        draw.line([(left - 5, y), (image.width - 200, y)], fill="#dddddd")
        draw.text((10, y - 6), f"{tick / 10:.1f}", fill="black")
    for at, name in enumerate(names):
        x0 = left + at * (len(METRICS) * bar + gap)
        for m, (column, _, _) in enumerate(METRICS):
            value = table.iloc[at][column]
            value = 0.0 if value != value else float(value)
            x = x0 + m * bar
            draw.rectangle([x, top + height - value * height, x + bar - 3, top + height],
                           fill=COLORS[m])
        if name in ceilings:  # precision@10's bar cannot pass it
            y = top + height - ceilings[name] * height
            draw.line([(x0 - 2, y), (x0 + bar - 1, y)], fill="black", width=2)
        draw.text((x0, top + height + 8), name[:28], fill="black")
        effort = table.iloc[at]["actions_per_100"]
        if effort == effort:
            draw.text((x0, top + height + 24), f"{effort:.1f} actions/100", fill="#444444")
    legend_x = image.width - 190
    for m, (_, label, _) in enumerate(METRICS):
        draw.rectangle([legend_x, top + 20 * m, legend_x + 12, top + 20 * m + 12], fill=COLORS[m])
        draw.text((legend_x + 18, top + 20 * m), label, fill="black")
    if ceilings:
        y = top + 20 * len(METRICS) + 6
        draw.line([(legend_x, y), (legend_x + 12, y)], fill="black", width=2)
        draw.text((legend_x + 18, y - 6), "precision@10 ceiling", fill="black")
    image.save(path, format="PNG")
