"""Nothing heavy on the event loop: while one tab trains a model on 10,000 clips, a label
applied in another tab shows within a second."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from hover_audio import AudioDataset

from .test_annotator import button, select_rows, status_text, two_tabs, type_label, wait_rows, wait_text

ROWS, CLASSES, DIM = 10_000, 10, 512


def big_workspace(folder):
    """10k clips with vectors and a map (no audio needed: nothing is played)."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, CLASSES, ROWS)
    centres = rng.normal(0, 1, (CLASSES, DIM))
    vectors = (centres[truth] + rng.normal(0, 2.5, (ROWS, DIM))).astype(np.float32)
    train = np.arange(ROWS) < 8000
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [f"/clips/take {i:05d}.wav" for i in range(ROWS)],
        "label": np.where(train, np.char.add("class ", truth.astype(str)), "ABSTAIN"),
        "SUBSET": np.where(train, "train", "raw")}))
    ds.vectors = vectors
    ds.compute_nd_embedding(method="pca", progress=False)
    ds.save(folder)
    ds.close()
    return folder


def test_a_label_shows_within_a_second_while_another_tab_trains(browser, start_server,
                                                                 tmp_path):
    server = start_server(big_workspace(tmp_path / "big"), extra=("--recipe", "active"))
    with two_tabs(browser, server.url, timeout=30_000) as (trainer, labeler):
        rows = [9001, 9002, 9003]
        select_rows(labeler, rows)
        type_label(labeler, "while training")
        button(trainer, "Train").click()
        wait_text(trainer, "training the model", timeout=30_000)
        start = time.monotonic()
        button(labeler, "Apply").click()
        wait_rows(labeler, rows, "label", "while training", timeout=5_000)
        took = time.monotonic() - start
        assert "model trained" not in status_text(trainer)  # the model was still training
        assert took < 1.0, f"the label took {took:.2f} s to show while a model trained"
        # and the training finishes, with predictions for every row
        trainer.get_by_text("model trained").first.wait_for(timeout=120_000)
