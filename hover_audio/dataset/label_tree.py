"""A labeled dataset -> a folder tree ``out/<label>/<file>``: what sound librarians file by."""
from __future__ import annotations

import os
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from ..audio.decode import decode
from ..audio.sources import SourceError, local_path, parse_key
from ..common.values import format_number
from .schema import ABSTAIN, AUDIO, LABEL, SUBSET, SUBSETS, range_columns
from .table_files import write_table

TREE_MODES = ("link", "copy", "hardlink")
TREE_REPORT = "labels.csv"
TREE_COLUMNS = [AUDIO, LABEL, SUBSET, "path", "action", "message"]
_UNSAFE_CHARACTERS = frozenset('/\\<>:"|?*')
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
_NAME_BYTES = 200  # well under the 255-byte limit of common file systems


def safe_name(text: str, fallback: str = "_") -> str:
    """``text`` as one safe file or folder name, on Linux, macOS and Windows.

    Path separators, characters Windows forbids (``<>:"|?*``) and control and
    format characters (newlines, bidirectional overrides) become ``_``; leading
    dots (hidden files, ``..``) and leading/trailing spaces are dropped, as are
    trailing dots; Windows device names (``CON``, ``NUL``...) get a ``_`` prefix.
    Other Unicode is kept (NFC-normalized); the result is cut to 200 UTF-8 bytes.
    """
    name = unicodedata.normalize("NFC", str(text))
    name = "".join(
        "_" if char in _UNSAFE_CHARACTERS or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
        else char
        for char in name
    )
    name = name.strip().lstrip(".").strip().rstrip(". ")
    if name.split(".", 1)[0].strip().upper() in _WINDOWS_RESERVED:
        name = "_" + name
    encoded = name.encode("utf-8")
    if len(encoded) > _NAME_BYTES:
        name = encoded[:_NAME_BYTES].decode("utf-8", errors="ignore").rstrip(". ")
    return name or fallback


def _unique_name(name: str, taken: set) -> str:
    """``name``, or ``stem (2).ext``, ``stem (3).ext``...: the first not in ``taken``.

    ``taken`` holds case-folded names (two names differing only in case are one
    file on macOS and Windows); the chosen name is added to it.
    """
    stem, suffix = os.path.splitext(name)
    candidate, number = name, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{stem} ({number}){suffix}"
    taken.add(candidate.casefold())
    return candidate


def _label_folders(labels, abstain: str | None) -> dict:
    """A distinct safe folder name for each label (``ABSTAIN`` -> ``abstain``).

    Labels that are already safe names keep them; a label whose safe form is
    taken by another label (``a/b`` and ``a_b``) gets a numbered name.
    """
    taken = {TREE_REPORT.casefold()}
    folders = {}
    real = sorted(set(labels) - {ABSTAIN})
    real.sort(key=lambda label: (safe_name(label) != label, label))
    for label in real:
        folders[label] = _unique_name(safe_name(label), taken)
    if abstain is not None and ABSTAIN in set(labels):
        folders[ABSTAIN] = _unique_name(safe_name(abstain), taken)
    return folders


def _clip_file_name(location_name: str, ref) -> str:
    """The file name of a clip: its own name, or for a range/channel, a WAV naming it."""
    stem, suffix = os.path.splitext(location_name)
    stem = safe_name(stem, fallback="clip")
    if ref.start is None and ref.end is None and ref.channel is None:
        extension = safe_name(suffix[1:], fallback="")
        return f"{stem}.{extension}" if extension else stem
    parts = []
    if ref.start is not None or ref.end is not None:
        end = "end" if ref.end is None else format_number(ref.end)
        parts.append(f"{format_number(ref.start or 0.0)}-{end} s")
    if ref.channel is not None:
        parts.append(f"ch {ref.channel}")
    return f"{stem} [{', '.join(parts)}].wav"


def _write_cut(source: Path, ref, target: Path) -> None:
    """Decode the range/channel of ``ref`` from ``source`` and write it as a WAV file."""
    import soundfile

    audio = decode(source, start=ref.start, end=ref.end, channel=ref.channel, name=ref.key)
    samples = np.clip(audio.samples, -1.0, 1.0)
    soundfile.write(str(target), samples, audio.sr, format="WAV", subtype="PCM_24")


def write_label_tree(
    dataset,
    out_dir: str | os.PathLike,
    mode: str = "link",
    include=("train", "dev", "test", "raw"),
    abstain: str | None = None,
) -> pd.DataFrame:
    """Write the labeled clips as a folder tree: ``out_dir/<label>/<file name>``.

    The tree a sound librarian files by, and the layout :meth:`AudioDataset.from_folder`
    reads back (labels from first-level folders).

    Parameters
    ----------
    dataset
        An :class:`~hover_audio.dataset.AudioDataset` (or a table with ``audio``,
        ``label`` and ``SUBSET`` columns, and optionally ``start``/``end``/``channel``).
    out_dir
        A new or empty folder (an existing non-empty folder is refused, so nothing
        is ever overwritten and a second run cannot mix with the first).
    mode
        ``"link"`` (symbolic links to the original files), ``"copy"`` (copies,
        with their times) or ``"hardlink"`` (same file system only).
    include
        The subsets whose rows are written.
    abstain
        ``None``: ``ABSTAIN`` rows are left out; a folder name (e.g.
        ``"unlabeled"``): they are written into that folder.

    Labels become safe folder names (see :func:`safe_name`: no ``/``, ``..``,
    leading dots or control characters; Unicode kept; distinct labels never share
    a folder). Two clips with one file name in a folder get ``name (2).wav``...
    A clip that is a range of a file (``path#t=1,2``, ``start``/``end`` columns)
    or one channel of it is cut out and written as a mono 24-bit WAV, whatever
    the mode. Clips at ``http(s)://`` URLs are not downloaded: they get a report
    row with action ``skipped_url``. A clip that cannot be read gets action
    ``error`` and the rest are still written.

    Returns
    -------
    pandas.DataFrame
        One row per clip considered: ``audio``, ``label``, ``SUBSET``, ``path``
        (relative to ``out_dir``, with ``/``; empty when nothing was written),
        ``action`` (``linked``, ``copied``, ``hardlinked``, ``cut``,
        ``skipped_url`` or ``error``) and ``message``. It is also written to
        ``out_dir/labels.csv``.
    """
    if mode not in TREE_MODES:
        raise ValueError(f"mode must be one of {TREE_MODES}, got {mode!r}")
    include = (include,) if isinstance(include, str) else tuple(include)
    unknown = [name for name in include if name not in SUBSETS]
    if unknown:
        raise ValueError(f"include: unknown subset(s) {unknown} (use {', '.join(SUBSETS)})")
    if abstain is not None and (not isinstance(abstain, str) or not abstain.strip()):
        raise ValueError(f"abstain must be None or a folder name, got {abstain!r}")
    table = dataset.to_pandas() if hasattr(dataset, "to_pandas") else pd.DataFrame(dataset)
    missing = [column for column in (AUDIO, LABEL, SUBSET) if column not in table.columns]
    if missing:
        raise ValueError(f"the table has no column(s) {missing}")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(
            f"{out_dir} exists and is not an empty folder; write the tree to a new folder"
        )

    wanted = table[SUBSET].isin(include)
    if abstain is None:
        wanted &= table[LABEL] != ABSTAIN
    rows = table[wanted]
    folders = _label_folders(rows[LABEL], abstain)
    column = {name: values if values is not None else [None] * len(rows)
              for name, values in range_columns(rows).items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    taken: dict[str, set] = {}
    verbs = {"link": "linked", "copy": "copied", "hardlink": "hardlinked"}
    report = []
    for at, (key, label, subset) in enumerate(zip(rows[AUDIO], rows[LABEL], rows[SUBSET])):
        written, action, message = None, None, None
        try:
            ref = parse_key(key, column["start"][at], column["end"][at], column["channel"][at])
            source = local_path(ref.location)
            if source is None:
                action, message = "skipped_url", f"{key}: a URL; download it to file it"
            else:
                if not source.is_file():
                    raise SourceError("not_found", f"{key}: no such file {source}")
                folder = folders[label]
                name = _unique_name(_clip_file_name(source.name, ref),
                                    taken.setdefault(folder, set()))
                target = out_dir / folder / name
                target.parent.mkdir(exist_ok=True)
                cut = ref.start is not None or ref.end is not None or ref.channel is not None
                if cut:
                    _write_cut(source, ref, target)
                    action = "cut"
                elif mode == "link":
                    os.symlink(os.path.abspath(source), target)
                elif mode == "copy":
                    shutil.copy2(source, target)
                else:
                    os.link(source, target)
                action = action or verbs[mode]
                written = f"{folder}/{name}"
        except Exception as error:  # one unreadable clip never stops the tree
            action = "error"
            message = str(error) if isinstance(error, SourceError) or hasattr(error, "kind") \
                else f"{key}: {type(error).__name__}: {error}"
            if mode == "hardlink" and isinstance(error, OSError):
                message += " (hard links need one file system; use mode='copy')"
        report.append((key, label, subset, written, action, message))
    result = pd.DataFrame(report, columns=TREE_COLUMNS)
    write_table(result, out_dir / TREE_REPORT)
    return result
