"""hover's own names on the dataset: its constructor's lists of dicts, its label coding,
its ``dfs``, and the replacement of each hover method hover-audio does without.

:class:`HoverNames` gives :class:`~hover_audio.dataset.audio_dataset.AudioDataset`
hover's ``label_encoder``, ``label_decoder``, ``setup_label_coding``, ``dfs`` and
``synchronize_df_to_dictl`` (label edits made in ``dfs`` come back to the dataset,
journaled: :mod:`~hover_audio.dataset.subset_frames`); a call of a hover method that
has no counterpart here (``df_deduplicate``, ...) raises an AttributeError that says
what to use instead. :func:`dictl_table` reads hover's constructor arguments
(:mod:`~hover_audio.dataset.supervisable`).
"""
from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd

from . import subset_frames
from .schema import ABSTAIN, AUDIO, LABEL, SUBSET, SUBSETS

ABSTAIN_ENCODED = -1  # hover's code of ABSTAIN in label_encoder
REPLACED = {  # hover's methods with no counterpart here -> what to use instead
    "df_deduplicate": "dedup()",
    "validate_labels": "nothing: labels are checked as they are set",
    "locate_by_feature_value": "positions([key]) (a key's row in to_pandas())",
    "subset": "dfs[name] (a working copy: synchronize_df_to_dictl() applies its label edits) "
              "or to_pandas()",
    "copy": "copy.deepcopy(dataset) (a copy attached to no workspace), or "
            "AudioDataset.from_pandas(dataset.to_pandas()) (without its history)",
    "loader": "dataset.vectors with to_pandas()'s labels (hover_audio.model.classifier.fit)",
    "setup_pop_table": "the annotator's population table (simple_annotator(dataset))",
    "update_population": "the annotator's population table (simple_annotator(dataset))",
    "setup_sel_table": "the annotator's selection table (simple_annotator(dataset))",
    "update_pusher": "subscribe(listener): called with each change",
    "pop_table": "the annotator's population table, or to_pandas() counts",
}


def dictl_table(raw_dictl: Iterable[Mapping] | None = None, train_dictl=None, dev_dictl=None,
                test_dictl=None, feature_key: str = AUDIO, label_key: str = LABEL
                ) -> pd.DataFrame:
    """hover's lists of dicts, one per subset, as one table (raw rows are ``ABSTAIN``
    unless they say otherwise).

    Examples
    --------
    >>> dictl_table([{"audio": "a.wav"}], [{"audio": "b.wav", "label": "dog"}])
       audio    label SUBSET
    0  a.wav  ABSTAIN    raw
    1  b.wav      dog  train
    """
    frames = []
    for subset, dictl in zip(SUBSETS, (raw_dictl, train_dictl, dev_dictl, test_dictl)):
        records = list(dictl or [])
        if not all(isinstance(record, Mapping) for record in records):
            raise TypeError(f"{subset}_dictl must be a list of dicts like "
                            f"{{{feature_key!r}: 'clip.wav', {label_key!r}: 'dog'}}; for a "
                            "DataFrame use SupervisableAudioDataset.from_pandas(df)")
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
        if len(frame) and label_key not in frame.columns:
            frame[label_key] = ABSTAIN
        frame[SUBSET] = subset
        frames.append(frame)
    table = pd.concat([frame for frame in frames if len(frame)] or [pd.DataFrame(
        {feature_key: [], label_key: [], SUBSET: []})], ignore_index=True)
    if feature_key not in table.columns:
        raise ValueError(f"no {feature_key!r} in the dicts (hover's feature_key: the audio key)")
    table[label_key] = table[label_key].where(table[label_key].notna(), ABSTAIN)
    return table


class HoverNames:
    """hover's label coding, computed from ``classes`` as they are now (no setup step)."""

    @property
    def label_encoder(self) -> dict:
        """Label -> its index in ``classes`` (the labels of train, dev and test, in
        lexical order), ABSTAIN -> -1 (hover's)."""
        return {**{label: code for code, label in enumerate(self.classes)},
                ABSTAIN: ABSTAIN_ENCODED}

    @property
    def label_decoder(self) -> dict:
        """Index -> label, the inverse of :attr:`label_encoder` (hover's)."""
        return {code: label for label, code in self.label_encoder.items()}

    def setup_label_coding(self, verbose: bool = True, debug: bool = False) -> None:
        """Nothing to set up: :attr:`classes` and the coders follow the labels."""

    @property
    def dfs(self) -> dict[str, pd.DataFrame]:
        """Subset name -> its rows, as hover's ``dataset.dfs``: a working copy, the same
        frames on each access, edited in place as in hover; their label edits (and rows
        moved to another subset's frame) reach the dataset only through
        :meth:`synchronize_df_to_dictl`. Frames without edits are read again after the
        dataset changed (see :mod:`~hover_audio.dataset.subset_frames`)."""
        return subset_frames.frames_of(self)

    def synchronize_df_to_dictl(self) -> int:
        """Apply the edits made in :attr:`dfs` since it was handed out (or last synchronized):
        labels, and rows moved to another subset's frame (test > dev > train > raw where a row
        is in several), as one operation (journaled, one :meth:`undo`). Returns how many rows
        changed.

        Raises
        ------
        ValueError
            Changing nothing, naming the rows and columns: a bad label, ``ABSTAIN`` outside
            raw, another column changed or added (each names what changes it), a row left
            out of every frame or not in the dataset. The frames keep their edits.
        """
        return subset_frames.synchronize(self)

    def synchronize_dictl_to_df(self) -> None:
        """Drop the :attr:`dfs` working copy (with a warning when it holds edits never
        synchronized): the next ``dfs`` reads the dataset again."""
        subset_frames.drop(self)

    def __getattr__(self, name: str):
        kind = type(self).__name__
        if name in REPLACED:
            raise AttributeError(f"{kind} has no {name}() (hover's): use {REPLACED[name]}")
        raise AttributeError(f"{kind!r} object has no attribute {name!r}")
