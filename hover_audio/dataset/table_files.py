"""Reading and writing clip tables as CSV, JSON and Parquet files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..common.files import atomic_write
from .schema import AUDIO, LABEL, SUBSET, TAGS, TRANSCRIPT

FORMATS = (".csv", ".json", ".parquet")
# columns always read as text, so that labels such as "NA" or "007" survive a CSV, and
# an empty transcript or tag list stays "" (not a missing value)
TEXT_COLUMNS = (AUDIO, LABEL, SUBSET, TRANSCRIPT, TAGS)


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"{path}: unknown table format {suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(FORMATS)}"
        )
    return suffix


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` to ``path`` atomically, in the format named by its suffix.

    JSON is written in pandas' "table" orientation (records plus a schema), so
    column types survive the round trip.
    """
    path = Path(path)
    suffix = _suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        writer = lambda tmp: table.to_csv(tmp, index=False)  # noqa: E731
    elif suffix == ".json":
        writer = lambda tmp: table.to_json(  # noqa: E731
            tmp, orient="table", index=False, indent=1, force_ascii=False
        )
    else:
        writer = lambda tmp: table.to_parquet(tmp, index=False)  # noqa: E731
    atomic_write(path, writer)
    return path


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (or by another tool)."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such table file: {path}")
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".json":
        return _read_json(path)
    try:
        header = pd.read_csv(path, nrows=0).columns
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: an empty file, not a table (it needs at least the header "
                         "row: audio,label,SUBSET)") from None
    text = [column for column in TEXT_COLUMNS if column in header]
    return pd.read_csv(
        path,
        dtype={column: str for column in text},
        keep_default_na=False,
        na_values={column: _default_na() for column in header if column not in text},
    )


def _default_na() -> list[str]:
    from pandas._libs.parsers import STR_NA_VALUES

    return sorted(STR_NA_VALUES)


def _read_json(path: Path) -> pd.DataFrame:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if isinstance(data, dict) and "schema" in data and "data" in data:
        return pd.read_json(path, orient="table")
    if isinstance(data, list):  # plain records, as other tools write them
        return pd.DataFrame.from_records(data)
    raise ValueError(f"{path}: expected a list of records or a pandas table-oriented JSON")
