import numpy as np
import pytest
from PIL import Image

from stylegram.errors import ImageError, InputError
from stylegram.images import load_image, output_format, read_recipe, save_image, scaled_size


def test_exif_orientation_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif.tobytes(), quality=100)
    loaded = load_image(path)
    assert loaded.shape == (40, 20, 3)  # portrait after orientation
    assert loaded[2, 10, 2] > 0.8 and loaded[-3, 10, 0] > 0.8  # blue on top, red below


@pytest.mark.parametrize("mode", ["P", "L", "LA", "RGBA", "I;16", "CMYK", "1"])
def test_modes_become_rgb(tmp_path, mode):
    base = Image.new("RGB", (24, 16), (200, 100, 50))
    image = base.convert(mode) if mode != "I;16" else Image.fromarray(np.full((16, 24), 40000, np.uint16))
    path = tmp_path / f"img.{'tiff' if mode == 'CMYK' else 'png'}"
    image.save(path)
    loaded = load_image(path)
    assert loaded.shape == (16, 24, 3) and loaded.dtype == np.float32
    assert 0 <= loaded.min() and loaded.max() <= 1
    if mode == "I;16":
        assert abs(loaded[0, 0, 0] - 40000 / 65535) < 0.01  # 16-bit scaled, not clipped to white


def test_resize_long_edge_and_exact():
    assert scaled_size(1024, 768, 64) == (64, 48)
    from tests.conftest import CONTENT
    assert load_image(CONTENT, long_edge=64).shape == (48, 64, 3)
    assert load_image(CONTENT, size=(30, 20)).shape == (20, 30, 3)


def test_save_roundtrip_formats(tmp_path):
    array = np.random.default_rng(0).uniform(0, 1, (20, 30, 3)).astype(np.float32)
    for ext in ("png", "jpg", "webp"):
        path = tmp_path / f"x.{ext}"
        save_image(array, path, recipe={"seed": 1})
        assert Image.open(path).size == (30, 20)
    np.testing.assert_allclose(load_image(tmp_path / "x.png"), array, atol=1 / 255)
    for ext in ("png", "jpg", "webp"):  # every output format keeps the recipe
        assert read_recipe(tmp_path / f"x.{ext}") == {"seed": 1}, ext
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jpg", "x.png", "x.webp"]  # no temp files left
    with pytest.raises(InputError, match="unknown image extension .bmp"):
        output_format(tmp_path / "x.bmp")


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    def broken_save(self, fp, format=None, **params):
        with open(fp, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        save_image(np.zeros((8, 8, 3), np.float32), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_min_side_after_resize(tmp_path):
    path = tmp_path / "strip.png"
    Image.new("RGB", (400, 20)).save(path)
    with pytest.raises(ImageError, match="after resizing to 64x3"):
        load_image(path, long_edge=64, min_side=16)
