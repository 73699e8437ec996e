"""The package's public surface, used the way the README shows it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from .conftest import CONTENT, ROOT, STYLE


def readme_python_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_importing_the_package_does_no_work_and_lists_its_surface():
    script = ("import sys, stylegram\n"
              "print(sorted(stylegram.__all__)); print('torch' in sys.modules, 'stylegram.api' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    names, loaded = proc.stdout.splitlines()
    assert {"stylize", "Result", "Progress", "Stop", "StylizeSettings", "GramCache",
            "style_targets"} <= set(eval(names))
    assert loaded == "False False"


def test_the_public_names_are_the_library_objects():
    import stylegram
    from stylegram import StylizeSettings, stylize
    from stylegram.api import stylize as api_stylize
    from stylegram.settings import StylizeSettings as settings_class

    assert stylize is api_stylize and StylizeSettings is settings_class
    import stylegram.engine  # noqa: F401  (the engine's module must not shadow the function)

    assert stylegram.stylize is api_stylize
    with pytest.raises(AttributeError):
        stylegram.no_such_name  # noqa: B018


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", readme_python_example()], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("scale 1/1, iteration 25, loss ") and re.match(r"Stop\.\w+ \d", lines[-1])
    from stylegram.images import load_image, read_recipe

    recipe = read_recipe(tmp_path / "tubingen-starry.png")
    assert recipe["settings"]["size"] == 128 and recipe["styles"][0]["file"] == "style0.png"
    assert load_image(tmp_path / "tubingen-starry.png").shape == (96, 128, 3)


def test_keywords_are_validated_as_the_cli_validates_them():
    from stylegram import InputError, stylize

    with pytest.raises(InputError, match="--style-weight must be positive"):
        stylize(CONTENT, STYLE, style_weight=-1)
    with pytest.raises(InputError, match="expected an image path or a PIL image, got int"):
        stylize(CONTENT, [3], size=64)


@pytest.mark.slow
def test_a_pil_image_and_its_file_give_the_same_result(tmp_path):
    from PIL import Image

    from stylegram import StylizeSettings, stylize

    settings = StylizeSettings(size=48, scales=1, iterations=3, weights="random", targets="torch")
    png = tmp_path / "style.png"
    Image.open(STYLE).save(png)
    from_file = stylize(CONTENT, [png], settings)
    seen = []
    from_pil = stylize(Image.open(CONTENT), Image.open(png), settings, callback=seen.append)
    assert len(seen) == 3 and seen[-1].iteration == 3
    assert from_pil.recipe["styles"][0]["sha256"] == from_file.recipe["styles"][0]["sha256"]
    np.testing.assert_allclose(from_pil.image, from_file.image, atol=2e-3)  # content: JPEG file vs its pixels
