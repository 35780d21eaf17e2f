"""Progress bars (tqdm) that cost nothing when turned off."""
from __future__ import annotations


def progress_bar(items, enabled: bool, label: str, total: int | None = None, unit: str = "clip"):
    """``items`` wrapped in a tqdm bar when ``enabled``; ``items`` itself otherwise.

    With ``items=None`` and a ``total`` it returns a bar to ``update()`` by hand.
    """
    if not enabled:
        return items
    from tqdm.auto import tqdm

    # no monitor thread: a live extra thread makes forking workers unsafe
    tqdm.monitor_interval = 0
    return tqdm(items, desc=label, total=total, unit=unit)
