"""Small helpers for the values found in clip tables (missing markers, numbers as text)."""
from __future__ import annotations

import math


def is_missing(value) -> bool:
    """Return True for None, pandas.NA and float NaN (pandas' missing markers).

    Examples
    --------
    >>> is_missing(None), is_missing(float("nan")), is_missing(0.0)
    (True, True, False)
    """
    if value is None or type(value).__name__ == "NAType":
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:  # pragma: no cover - exotic objects
        return False


def format_number(value: float) -> str:
    """Shortest exact text of a float, without a trailing '.0' (``1.5``, ``2``).

    Examples
    --------
    >>> format_number(2.0), format_number(1.25)
    ('2', '1.25')
    """
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


TIME_DIGITS = 3  # times are kept to the millisecond: in keys, range columns and every format


def milliseconds(seconds) -> float:
    """Seconds rounded to the millisecond (:data:`TIME_DIGITS`).

    Examples
    --------
    >>> milliseconds(3.1234), milliseconds("2")
    (3.123, 2.0)
    """
    return round(float(seconds), TIME_DIGITS)


def optional_number(value, cast=float):
    """``cast(value)``, or None when ``value`` is missing (None, NA, NaN).

    Examples
    --------
    >>> optional_number(float("nan")), optional_number("2", int)
    (None, 2)
    """
    return None if is_missing(value) else cast(value)


def optional_text(value) -> str:
    """A range or channel value as key text: ``""`` for None, integers as they are.

    Examples
    --------
    >>> optional_text(None), optional_text(2), optional_text(1.50)
    ('', '2', '1.5')
    """
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else format_number(value)


def fold(tag: str) -> str:
    """What tags are compared by, everywhere (workspace, files, synonyms):
    ``fold("Drum") == fold("drum")``."""
    return tag.casefold()
