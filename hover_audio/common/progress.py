"""Progress bars (tqdm) that cost nothing when turned off."""
from __future__ import annotations


def progress_bar(items, enabled: bool, label: str, total: int | None = None, unit: str = "clip"):
    """``items`` wrapped in a tqdm bar when ``enabled``; ``items`` itself otherwise.

    With ``items=None`` and a ``total`` it returns a bar to ``update()`` by hand.
    """
    if not enabled:
        return items
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm  # a widget in a notebook, text elsewhere
    else:  # (tqdm.auto in a notebook without ipywidgets warns "IProgress not found")
        from tqdm.std import tqdm

    # no monitor thread: a live extra thread makes forking workers unsafe
    tqdm.monitor_interval = 0
    return tqdm(items, desc=label, total=total, unit=unit)
