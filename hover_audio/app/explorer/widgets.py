"""The controls beside the map: label box, selection, commit, undo, search, tables."""
from __future__ import annotations

import html

from bokeh.models import (
    Button, Checkbox, CheckboxGroup, CustomJS, ColumnDataSource, DataTable, Div, FileInput,
    HTMLTemplateFormatter, NumberFormatter, RadioButtonGroup, Slider, Spinner, StringEditor,
    TableColumn, TextInput,
)

from ...dataset.schema import SUBSETS

SELECTION_MODES = ("none", "union", "intersection", "difference")  # hover's names


def title_div(title: str, width: int, most: int = 60) -> Div:
    """The page's title in bold, ``width`` pixels wide: a long one (a dataset's path)
    breaks anywhere rather than running over its neighbours, and beyond ``most``
    characters only its start up to ": " and its end are shown, the whole on hover.

    Examples
    --------
    >>> print(title_div("hover-audio: /srv/library/drums", 190, most=24).text)
    <b title="hover-audio: /srv/library/drums">hover-audio: \u2026rary/drums</b>
    """
    head = title[:title.find(": ") + 2] if ": " in title else ""
    shown = title if len(title) <= most else head + "\u2026" + title[-(most - len(head) - 1):]
    return Div(text=f'<b title="{html.escape(title)}">{html.escape(shown)}</b>', width=width,
               styles={"overflow-wrap": "anywhere"}, name="page-title")


def status_div() -> Div:
    return Div(text="", width=420, styles={"color": "#444", "min-height": "1.2em"})


def say(div: Div, message: str, error: bool = False) -> None:
    """Show a message; the text is escaped (it may hold file names and labels)."""
    color = "#b00020" if error else "#225522"
    div.text = f'<span style="color:{color}">{html.escape(message)}</span>'


def label_controls() -> dict:
    return {
        # a plain text box: an autocomplete box would swap a typed prefix ("seve")
        # for a known label ("seven"); the known labels are offered as buttons instead
        "label": TextInput(title="Label", placeholder="type a label, then Apply", width=220),
        "apply": Button(label="Apply", button_type="primary", width=90),
        "mode": RadioButtonGroup(labels=list(SELECTION_MODES), active=0),
        "undo": Button(label="Undo (Ctrl+Z)", width=120),
        "redo": Button(label="Redo (Ctrl+Y)", width=120),
        "commits": {subset: Button(label=f"→ {subset}", width=80) for subset in SUBSETS},
    }


def sound_controls() -> dict:
    return {
        "unlock": Button(label="Enable sound", button_type="warning", width=130),
        "hover_play": CheckboxGroup(labels=["play on hover"], active=[0]),
        "volume": Slider(title="volume", start=0.0, end=1.0, step=0.05, value=0.8, width=160),
    }


def search_controls() -> dict:
    return {
        "like": Button(label="More like the selection", width=190),
        "query": TextInput(title="…or a file path / URL, or tag:TEXT",
                           placeholder="/path/to/clip.wav or tag:applause",
                           width=300),
        "go": Button(label="Search", width=80),
        "upload": FileInput(accept="audio/*", multiple=False, width=300),
        "top_k": Spinner(title="top k", low=1, high=10000, step=10, value=50, width=90),
        "threshold": Slider(title="min score", start=-1.0, end=1.0, step=0.01, value=0.3,
                            width=200),
        # the min score follows the chance level of the aspect searched until unticked
        "auto": Checkbox(label="auto", active=True, width=60),
        "select": Button(label="Select results", width=130),
        "filter": Button(label="Keep only results in selection", width=220),
        "clear": Button(label="Clear search", width=110),
    }


def redraw_on_change(table: DataTable) -> DataTable:
    """Redraw ``table`` whenever its data changes.

    Bokeh 3.9's DataTable redraws when its view's row indices change, so new data
    with the same number of rows (new counts, a relabeled selection) would not show.
    """
    redraw = CustomJS(args=dict(table=table), code="table.view.change.emit();")
    table.source.js_on_change("data", redraw)
    table.source.js_on_change("patching", redraw)
    return table


ROW_HEIGHT, HEADER_HEIGHT = 25, 32  # a table's rows and its header (and borders), px
SELECTION_MOST = 260  # the selection table scrolls beyond this height


def fit_rows(table: DataTable, most: int | None = None) -> None:
    """Make ``table`` as tall as its rows (one row's room when empty), at most ``most`` px
    (it scrolls inside beyond that): no empty band under a short table's header, no
    inner scroll hiding the last rows of a table that may grow (``most=None``).

    >>> table = DataTable(source=ColumnDataSource({"a": [1, 2, 3]}))
    >>> fit_rows(table); table.height
    107
    >>> fit_rows(table, most=60); table.height
    60
    """
    rows = len(next(iter(table.source.data.values()), []))
    height = HEADER_HEIGHT + ROW_HEIGHT * max(rows, 1)
    height = height if most is None else min(height, most)
    if table.height != height:
        table.height = height


def failed_div(text: str, keys: str) -> Div:
    """The line under the title on clips that could not be read (hover it: which, why);
    hidden when there are none."""
    return Div(text=_failed_text(text, keys), visible=bool(text), name="failed-clips",
               width=460, styles={"color": "#8a4b00"})


def show_failed(div: Div, text: str, keys: str) -> None:
    div.update(text=_failed_text(text, keys), visible=bool(text))


def _failed_text(text: str, keys: str) -> str:
    return (f'<span title="{html.escape(keys)}" style="cursor:help">\u26a0 {html.escape(text)} '
            "(hover here for which)</span>") if text else ""


def population_table(source: ColumnDataSource) -> DataTable:
    swatch = HTMLTemplateFormatter(
        template='<span style="color:<%= color %>;font-size:1.2em">&#9632;</span> <%- label %>')
    columns = [TableColumn(field="label", title="label", formatter=swatch, width=150)]
    columns += [TableColumn(field=subset, title=subset, width=55) for subset in SUBSETS]
    columns.append(TableColumn(field="total", title="total", width=55))
    table = DataTable(source=source, columns=columns, width=440, row_height=ROW_HEIGHT,
                      index_position=None, sortable=True, editable=False, reorderable=False,
                      name="population-table")
    fit_rows(table)  # as tall as its labels (page.refresh grows it with them)
    return redraw_on_change(table)


def selection_table(source: ColumnDataSource) -> DataTable:
    columns = [
        TableColumn(field="name", title="file (select a row to play)", width=210),
        TableColumn(field="label", title="label (double-click to edit)", editor=StringEditor(),
                    width=140),
        TableColumn(field="subset", title="subset", width=60),
        TableColumn(field="score", title="score", formatter=NumberFormatter(format="0.000"),
                    width=60),
        TableColumn(field="transcript", title="transcript (double-click, Enter saves)",
                    editor=StringEditor(), width=240),
        TableColumn(field="tags", title="tags", width=160),
    ]
    # as wide as the page beside its Remove button (the columns shrink to fit: force_fit)
    table = DataTable(source=source, columns=columns, row_height=ROW_HEIGHT,
                      sizing_mode="stretch_width", min_width=420,
                      editable=True, index_position=None, selectable=True,
                      reorderable=False, name="selection-table")
    fit_rows(table, SELECTION_MOST)  # as tall as its rows (the page refits it)
    return redraw_on_change(table)


BUTTON_TEXT = 40  # a label button shows at most this many characters of its label


def label_button(number: int, label: str, colour: str) -> Button:
    """The button of key ``number`` applying ``label``: as wide as its label (a long one
    cut short; the tables show it whole), with the label's colour on its left edge.

    Examples
    --------
    >>> label_button(2, "x" * 50, "#0072B2").label == "2: " + "x" * 39 + "\u2026"
    True
    """
    shown = label if len(label) <= BUTTON_TEXT else label[:BUTTON_TEXT - 1] + "\u2026"
    return Button(label=f"{number}: {shown}", min_width=100, max_width=450,
                  name=f"label-button-{number}", styles={"border-left": f"6px solid {colour}"})


def play_table_row(table: ColumnDataSource, channel) -> CustomJS:
    """Play (and show in the clip panel) the first row picked in the selection ``table``.

    Browser-side only: the row's pick is not answered by resending the table, so a
    double-click that picks a row also opens its cell editor.
    """
    return CustomJS(args=dict(table=table, channel=channel), code="""
const picked = table.selected.indices;
if (!picked.length) { return; }
channel.request = table.data.index[picked[0]];
channel.ticket = channel.ticket + 1;
channel.focus = table.data.index[picked[0]];
""")
