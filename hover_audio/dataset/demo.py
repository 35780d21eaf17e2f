"""The embedded demo: about 1000 synthetic clips of spoken digits "zero".."nine"."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .audio_dataset import AudioDataset
from .folder import stratified_split
from .schema import ABSTAIN, AUDIO, LABEL, SUBSET

DATA_DIR = Path(__file__).parent.parent / "data" / "digits"
MANIFEST = DATA_DIR / "manifest.csv"
# shares of each digit, as in hover's audio demo: ~500 raw, 300 train, 100 dev, 100 test
SPLIT = {"train": 0.3, "dev": 0.1, "test": 0.1}


def demo_table() -> pd.DataFrame:
    """The demo clips with their true labels and how each was made (voice, speed...)."""
    if not MANIFEST.is_file():
        raise FileNotFoundError(
            f"demo data missing: {MANIFEST}; regenerate it with scripts/make_demo_data.py"
        )
    manifest = pd.read_csv(MANIFEST)
    table = manifest.drop(columns=["file"]).rename(columns={"duration_s": "duration"})
    table.insert(0, AUDIO, [str(DATA_DIR / name) for name in manifest["file"]])
    return table


def load_dataset(seed: int = 0) -> AudioDataset:
    """The demo as an AudioDataset split like hover's audio demo.

    Each digit is split by a seeded shuffle: 50% ``raw`` (labels hidden as
    ``ABSTAIN``), 30% ``train``, 10% ``dev``, 10% ``test``. Every row keeps its
    answer in ``true_label``, so the demo can score itself.
    """
    table = demo_table()
    subsets = stratified_split(table["true_label"], SPLIT, seed=seed)
    labels = table["true_label"].where(subsets != "raw", ABSTAIN)
    table.insert(1, LABEL, labels)
    table.insert(2, SUBSET, subsets)
    return AudioDataset.from_pandas(table)
