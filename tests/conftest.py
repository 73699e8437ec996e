"""Shared fixtures: example images, a private cache home, and broken inputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CONTENT = EXAMPLES / "tubingen.jpg"
STYLE = EXAMPLES / "starry_night.jpg"


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory, monkeypatch):
    """Each test session gets its own STYLEGRAM_HOME so no test touches the user's cache."""
    home = tmp_path_factory.getbasetemp() / "stylegram-home"
    monkeypatch.setenv("STYLEGRAM_HOME", str(home))
    return home


@pytest.fixture(scope="session", autouse=True)
def precision_measured(tmp_path_factory):
    """``--precision auto`` measures on first use and says so in one line; measure it once, for real,
    before the tests, so that tests of what a command prints see a machine that has been measured
    (tests/test_precision.py covers the measurement itself in homes of their own)."""
    from stylegram.precision import cpu_precision

    previous = os.environ.get("STYLEGRAM_HOME")
    os.environ["STYLEGRAM_HOME"] = str(tmp_path_factory.getbasetemp() / "stylegram-home")
    try:
        cpu_precision()
    finally:
        if previous is None:
            os.environ.pop("STYLEGRAM_HOME")
        else:
            os.environ["STYLEGRAM_HOME"] = previous


@pytest.fixture(scope="session")
def original_weights():
    from stylegram.weights import load_weights

    return load_weights()


@pytest.fixture
def bad_images(tmp_path) -> dict[str, Path]:
    """Files that must each be refused with a clear error."""
    paths = {}
    paths["missing"] = tmp_path / "missing.jpg"
    paths["directory"] = tmp_path / "folder.jpg"
    paths["directory"].mkdir()
    paths["text"] = tmp_path / "notes.jpg"
    paths["text"].write_text("this is not an image\n")
    data = CONTENT.read_bytes()
    paths["truncated"] = tmp_path / "truncated.jpg"
    paths["truncated"].write_bytes(data[: len(data) // 3])
    for side in (1, 8):
        paths[f"tiny{side}"] = tmp_path / f"tiny{side}.png"
        Image.new("RGB", (side, side), (120, 30, 200)).save(paths[f"tiny{side}"])
    paths["huge"] = tmp_path / "huge.png"
    Image.new("1", (20000, 10000)).save(paths["huge"])  # 200 Mpx declared, a few KB on disk
    return paths


def noise_image(path: Path, size: tuple[int, int] = (48, 40), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB").save(path)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to prove nothing was changed or left behind."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cpu_count() -> int:
    return os.cpu_count() or 1
