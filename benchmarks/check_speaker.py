"""The ``speaker`` embedder (Resemblyzer, PyTorch), which ``make test`` leaves out: run
its real model where the extra is installed, and measure it.

On the demo's 41 espeak voice variants (6 clips each), prints precision@5 by voice and
by digit for ``speaker``, beside the default MFCC vectorizer (the reference, same run)
and ``speech`` when installed; checks the vector's length, finiteness, determinism, a
20 ms clip, and the model in the cache key.

Usage: ``pip install 'hover-audio[speaker]'`` (pulls PyTorch), then
``python benchmarks/check_speaker.py``.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd


def main() -> int:
    from hover_audio import AudioDataset
    from hover_audio.dataset.demo import demo_table
    from hover_audio.model.evaluation import precision_at_k
    from hover_audio.vectors import registry

    if not registry.is_installed("speaker"):
        print(registry.missing_message("speaker"))
        return 2
    table = demo_table().groupby("variant").head(6).reset_index(drop=True)
    speaker = registry.make("speaker", cache=False)
    first = speaker(table["audio"][0])
    assert first.shape == (speaker.dim,) and np.isfinite(first).all()
    np.testing.assert_allclose(first, speaker(table["audio"][0]), rtol=1e-5)
    assert np.isfinite(speaker.vector(np.zeros(320, np.float32), 16000)).all()  # 20 ms
    assert speaker.cache_params()["model"].startswith("resemblyzer-")
    names = ["mfcc", "speaker"] + (["speech"] if registry.is_installed("speech") else [])
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HOVER_AUDIO_CACHE"] = cache
        for name in names:
            ds = AudioDataset.from_pandas(pd.DataFrame({"audio": table["audio"]}))
            start = time.perf_counter()
            report = ds.vectorize(registry.make(name), workers=2, progress=False)
            seconds = (time.perf_counter() - start) / len(ds)
            assert report.empty, report
            rows.append({"vectors": name,
                         "p@5 same voice": precision_at_k(ds.vectors, table["variant"], 5),
                         "p@5 same digit": precision_at_k(ds.vectors, table["true_label"], 5),
                         "ms/clip": 1000 * seconds})
    result = pd.DataFrame(rows).set_index("vectors")
    result["voice x mfcc"] = result["p@5 same voice"] / result.loc["mfcc", "p@5 same voice"]
    print(f"{len(table)} demo clips, {table['variant'].nunique()} voices, 10 digits "
          "(chance: ~0.02 by voice, 0.1 by digit)")
    print(result.to_string(float_format=lambda x: f"{x:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
