"""hover's module path for datasets (``hover.core.dataset``)."""
from ..dataset import AudioDataset, SupervisableAudioDataset

__all__ = ["SupervisableAudioDataset", "AudioDataset"]
