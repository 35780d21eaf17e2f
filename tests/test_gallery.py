"""The gallery scripts run end to end: real server, headless Chromium, a screenshot each.

Each script prepares its data offline, drives the annotator like a user (enable sound,
hover, lasso, label, search), asserts what the page shows, and writes a PNG; here it
writes into ``tmp_path`` and the PNG is checked to be a real, non-trivial image.
"""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ["digits_demo", "sound_effects_folder", "long_recording_segments", "clip_panel",
           "labels_map"]


def png_size(path: Path) -> tuple[int, int]:
    try:
        from PIL import Image
    except ImportError:  # the PNG header: signature, then the IHDR chunk's width and height
        data = path.read_bytes()[:24]
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data
        return struct.unpack(">II", data[16:24])
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        return image.size


@pytest.mark.parametrize("name", SCRIPTS)
def test_gallery_script(name, tmp_path):
    out = tmp_path / f"{name}.png"
    done = subprocess.run([sys.executable, str(REPO / "gallery" / f"{name}.py"), "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    report = f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, report
    assert "server stopped (exit code 0)" in done.stdout, report
    assert out.is_file() and out.stat().st_size > 20_000, report
    width, height = png_size(out)
    assert width >= 1000 and height >= 600, (width, height)
