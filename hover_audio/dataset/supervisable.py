"""hover's ``SupervisableAudioDataset``: an :class:`~hover_audio.dataset.audio_dataset.AudioDataset`
that also takes hover's constructor of dict lists."""
from __future__ import annotations

import pandas as pd

from . import schema
from .audio_dataset import AudioDataset
from .hover_names import dictl_table
from .schema import AUDIO, LABEL


class SupervisableAudioDataset(AudioDataset):
    """hover's name for :class:`AudioDataset`, which also takes hover's constructor:
    ``SupervisableAudioDataset(raw_dictl, train_dictl=None, dev_dictl=None,
    test_dictl=None, feature_key="audio", label_key="label")``, lists of dicts per
    subset (see :func:`dictl_table`). Rows are checked and deduplicated as by
    :meth:`~AudioDataset.from_pandas`.
    """

    def __init__(self, raw_dictl=None, train_dictl=None, dev_dictl=None, test_dictl=None,
                 feature_key: str = AUDIO, label_key: str = LABEL, *, vectors=None):
        if isinstance(raw_dictl, pd.DataFrame):  # a checked table (from_pandas, load, ...)
            super().__init__(raw_dictl, vectors if train_dictl is None else train_dictl)
            return
        table = dictl_table(raw_dictl, train_dictl, dev_dictl, test_dictl, feature_key,
                            label_key)
        super().__init__(schema.normalize_table(table, feature_key, label_key), vectors)
        dropped = self.dedup()
        self.label_order = self._clips.initial_label_order()
        schema.warn_about_import(dropped, self._clips.frame, stacklevel=2)
