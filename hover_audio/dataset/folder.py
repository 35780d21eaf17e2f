"""A folder of audio files -> a clip table: labels from subfolders, seeded splits, segments."""
from __future__ import annotations

import os
import warnings
import zlib
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..audio.decode import probe
from ..audio.formats import AUDIO_SUFFIXES
from ..audio.segments import spans
from ..audio.sources import clip_id, parse_key
from ..common.values import milliseconds
from .schema import ABSTAIN, AUDIO, LABEL, SUBSET, TAG_SEPARATOR, TAGS


def find_audio_files(root: str | os.PathLike) -> list[Path]:
    """Return the audio files under ``root``, recursively, in a stable sorted order.

    Hidden files and folders (``.git``, macOS ``._name`` resource forks) are skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            if os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES:
                found.append(Path(folder) / name)
    return found


def folder_table(root: str | os.PathLike, split: Mapping[str, float] | None = None,
                 seed: int = 0, segment=None, channels: str | None = None) -> pd.DataFrame:
    """One row per audio file under ``root``: label from the first-level subfolder.

    Files directly under ``root`` are ``ABSTAIN`` in ``raw``; labeled files go to
    ``train``, or to subsets by :func:`stratified_split` with ``split``. With
    ``segment`` (a window in seconds, "nonsilent", or options of :func:`segment_table`) each
    file becomes one row per clip, after the split, so one file's clips share a subset.
    ``channels="split"`` lists a multichannel file once per channel (keys
    ``file.wav#channel=N``, a ``channel`` column), before it is segmented.
    """
    table = _files_table(root)
    if split:
        table[SUBSET] = stratified_split(table[LABEL], split, seed=seed)
    if channels is not None:
        table = channel_rows(table, channels)
    return table if segment is None else segment_rows(table, segment)


CHANNEL_MODES = ("split",)


def channel_rows(table: pd.DataFrame, mode: str = "split") -> pd.DataFrame:
    """One row per channel of each multichannel file (mono files stay one row).

    The rows keep every column; the key gets a ``#channel=N`` fragment (0-based)
    and a ``channel`` column says the same. A file whose header cannot be read
    stays one row (vectorizing reports what is wrong with it).
    """
    if mode not in CHANNEL_MODES:
        raise ValueError(f"channels must be one of {CHANNEL_MODES}, got {mode!r}")
    rows = []
    for record in table.to_dict("records"):
        ref = parse_key(record[AUDIO])
        found = None if ref.channel is not None else probe(ref.location)
        count = found.channels if found is not None else 1
        if count < 2:
            rows.append(record)
            continue
        for number in range(count):
            rows.append({**record, AUDIO: clip_id(record[AUDIO], channel=number),
                         "channel": number})
    return pd.DataFrame(rows, columns=list(dict.fromkeys([*table.columns, "channel"])))



def segment_rows(table: pd.DataFrame, segment) -> pd.DataFrame:
    """Cut each whole-file row of ``table`` into ``#t=`` range rows (``segment`` as in
    :func:`folder_table`); rows that already are ranges are kept as they are."""
    if isinstance(segment, str):  # as on the command line
        if segment.strip().lower() != "nonsilent":
            raise ValueError(f"segment takes a window in seconds, 'nonsilent' or options of "
                             f"segment_table; got {segment!r}")
        segment = {"mode": "nonsilent"}
    options = {"window": float(segment)} if isinstance(segment, (int, float)) else segment
    ranged = table[AUDIO].astype(str).str.contains("#t=", regex=False)
    for column in ("start", "end"):
        if column in table.columns:
            ranged |= table[column].notna()
    cut, problems = segment_table(table[~ranged].reset_index(drop=True), **options)
    if len(problems):
        more = len(problems) - 5
        warnings.warn(f"{len(problems)} file(s) could not be segmented and were left out: "
                      + "; ".join(problems["message"].head(5))
                      + (f"; and {more} more" if more > 0 else ""), stacklevel=3)
    return pd.concat([cut, table[ranged]], ignore_index=True)


def folder_changes(root: str | os.PathLike, known, segment=None, channels: str | None = None,
                   seen=()) -> tuple[pd.DataFrame, list[str], list[str]]:
    """What a folder gained and lost since a dataset was made from it, by one walk of it.

    Returns :func:`folder_table`'s rows for the audio files under ``root`` that are
    neither in ``known`` (the files the dataset has) nor in ``seen`` (the files the
    folder had when last looked at: a file whose rows the user deleted stays out;
    labels and subsets as without a split, cut by ``segment``/``channels``); the files
    of ``known`` under ``root`` it no longer has; and every audio file found now.
    """
    root = Path(root).absolute()
    known = set(map(str, known))
    old = known | set(map(str, seen))
    found = find_audio_files(root)
    table = _files_table(root, [path for path in found if str(path) not in old])
    if channels is not None:
        table = channel_rows(table, channels)
    if segment is not None and not table.empty:
        table = segment_rows(table, segment)
    under, here = str(root) + os.sep, sorted(map(str, found))
    present = set(here)
    gone = sorted(path for path in known if path.startswith(under) and path not in present)
    return table, gone, here


def _files_table(root: str | os.PathLike, paths: list[Path] | None = None) -> pd.DataFrame:
    """One row per audio file under ``root`` (``paths``: those of them, already found)."""
    root = Path(root).absolute()
    rows = []
    for path in find_audio_files(root) if paths is None else paths:
        relative = path.relative_to(root)
        label = relative.parts[0] if len(relative.parts) > 1 else ABSTAIN
        rows.append(
            {
                AUDIO: str(path),
                LABEL: label,
                SUBSET: "raw" if label == ABSTAIN else "train",
                TAGS: _tags_in_file(path),
            }
        )
    table = pd.DataFrame(rows, columns=[AUDIO, LABEL, SUBSET, TAGS])
    return table if (table[TAGS] != "").any() else table.drop(columns=[TAGS])


def _tags_in_file(path: Path) -> str:
    """The tags already written into a file (``hover-audio tag``, or genre/keywords)."""
    from ..audio.file_tags import KINDS, TagError, read_tags

    if path.suffix.lower() not in KINDS:
        return ""
    try:
        return TAG_SEPARATOR.join(sorted(t for t in read_tags(path) if TAG_SEPARATOR not in t))
    except TagError:
        return ""  # an unreadable tag block: the file is still listed


def stratified_split(
    labels: pd.Series, fractions: Mapping[str, float], seed: int = 0
) -> pd.Series:
    """Assign each labeled row to a subset, per label, with a seeded shuffle.

    Parameters
    ----------
    labels
        The label of each row; ``ABSTAIN`` rows stay in ``raw``.
    fractions
        Subset name -> fraction of each label's rows, e.g.
        ``{"train": 0.8, "dev": 0.1, "test": 0.1}``. Fractions summing to less
        than one leave the rest of each label in ``raw`` (label kept).
    seed
        Seed of the shuffle. Each label is shuffled by its own stream, so adding
        a class never reshuffles the others.

    Returns
    -------
    pandas.Series
        The subset of each row, aligned with ``labels``.
    """
    for name, value in fractions.items():
        if name not in ("train", "dev", "test"):
            raise ValueError(f"split: unknown subset {name!r} (use train, dev, test)")
        if not 0 <= float(value) <= 1:
            raise ValueError(f"split: fraction for {name!r} must be in [0, 1], got {value!r}")
    total = sum(float(value) for value in fractions.values())
    if total > 1 + 1e-9:
        raise ValueError(f"split: fractions sum to {total:g} > 1")
    subsets = pd.Series("raw", index=labels.index, dtype=object)
    names = list(fractions)
    bounds = np.cumsum([float(fractions[name]) for name in names])
    for label, members in labels.groupby(labels, sort=True).groups.items():
        if label == ABSTAIN:
            continue
        stream = np.random.default_rng([seed, zlib.crc32(str(label).encode())])
        order = stream.permutation(np.asarray(members))
        cuts = np.rint(bounds * len(order)).astype(int)
        start = 0
        for name, stop in zip(names, cuts):
            subsets.loc[order[start:stop]] = name
            start = stop
    return subsets


def segment_table(table: pd.DataFrame, mode: str = "fixed", window: float = 5.0,
                  hop: float | None = None, top_db: float = 35.0, min_duration: float = 0.1
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace each row of ``table`` (one file per row) by one row per clip of it.

    Each clip's ``audio`` key is its file plus a ``#t=START,END`` media fragment
    (which browsers honour when playing), with ``source``, ``start`` and ``end``
    columns beside it.

    Parameters
    ----------
    mode, window, hop, top_db, min_duration
        How to cut: see :func:`hover_audio.audio.segments.spans` ("fixed"
        windows of ``window`` s every ``hop`` s, or "nonsilent" regions).

    Returns
    -------
    (clips, report)
        ``clips`` keeps every column of ``table`` and adds ``source``, ``start``,
        ``end``; ``report`` lists files that could not be read or hold no samples
        (key, kind, message). Every other file has at least one clip: a file shorter
        than a window, or with no region loud and long enough, is one clip, the whole file.
    """
    if mode not in ("fixed", "nonsilent"):
        raise ValueError(f"segment mode must be 'fixed' or 'nonsilent', got {mode!r}")
    rows, problems = [], []
    for _, row in table.iterrows():
        ref = parse_key(row[AUDIO], channel=row.get("channel"))
        path = Path(ref.location)
        try:
            found = spans(path, mode, window=window, hop=hop, top_db=top_db,
                          min_duration=min_duration)
        except Exception as error:  # one unreadable file never stops the others
            problems.append((row[AUDIO], getattr(error, "kind", "decode"), str(error)))
            continue
        # to the millisecond, as the key spells them (else from_pandas refuses the row)
        clips = [(milliseconds(start), milliseconds(end)) for start, end in found]
        clips = [(start, end) for start, end in clips if end > start]
        if not clips:  # never left out unsaid
            problems.append((row[AUDIO], "empty", f"{path}: no audio in it ("
                             + ("0 samples)" if not found else "less than a millisecond)")))
        for start, end in clips:
            clip = row.to_dict()
            clip.update({AUDIO: clip_id(str(path), start, end, ref.channel),
                         "source": str(path), "start": start, "end": end})
            rows.append(clip)
    columns = list(table.columns) + ["source", "start", "end"]
    report = pd.DataFrame(problems, columns=["key", "kind", "message"])
    return pd.DataFrame(rows, columns=columns), report
