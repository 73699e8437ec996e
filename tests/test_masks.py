"""Spatial control (--masks, --style-masks, --guide): guided Grams, whole and tiled, and bad masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegram.engine import prepare
from stylegram.errors import InputError
from stylegram.guides import layer_guide
from stylegram.images import image_size, to_pil
from stylegram.masks import split_masks
from stylegram.settings import StylizeSettings
from stylegram.tile_geometry import plan_tiles
from stylegram.tiling import TiledObjective

from .conftest import CONTENT, STYLE, snapshot

COMMON = dict(scales=1, precision="fp32", targets="torch", cache=False)


def write_mask(path, values):
    to_pil(np.repeat(np.asarray(values, np.float32)[..., None], 3, axis=-1)).save(path)
    return str(path)


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    folder = tmp_path_factory.mktemp("masks")
    left, right = split_masks(*image_size(CONTENT), "left", 32)
    return write_mask(folder / "left.png", left), write_mask(folder / "right.png", right)


@pytest.fixture(scope="module")
def style_half(tmp_path_factory):
    """The left half of the painting (a style mask over STYLE)."""
    left, _ = split_masks(*image_size(STYLE), "left", 0)
    return (write_mask(tmp_path_factory.mktemp("style-masks") / "starry-left.png", left),)


def test_simple_guides_average_the_pooling_blocks_and_inside_all_bracket_them():
    mask = np.zeros((64, 64), np.float32)
    mask[:, :24] = 1
    simple = layer_guide(mask, "relu3_1")  # two poolings: 4 x 4 blocks, 16 x 16
    assert simple.shape == (16, 16) and (simple[:, :6] == 1).all() and (simple[:, 6:] == 0).all()
    inside, touching = layer_guide(mask, "relu3_1", "inside"), layer_guide(mask, "relu3_1", "all")
    assert (inside <= simple).all() and (touching >= simple).all() and inside.sum() < simple.sum() < touching.sum()


def direct_style_loss(model, image, regions, layer_weights):
    """Guided Grams written out from the paper, without any of the library's loss code."""
    features = model(image)
    total = 0
    for name, weight in layer_weights.items():
        f = features[name][0]
        c = f.shape[0]
        for region in regions:
            t = region.guides[name][0, 0]
            mass = (t**2).sum()
            ft = (f * t).reshape(c, -1)
            gram = ft @ ft.T / (c * mass)
            target = region.grams[name][0]
            total = total + weight * region.weight * ((gram - target) ** 2).sum() / ((target**2).sum() + 1e-8)
    return total


@pytest.fixture(scope="module")
def masked_run(halves, original_weights):
    return prepare(CONTENT, [STYLE, CONTENT], StylizeSettings(size=96, masks=halves, **COMMON))


def test_guided_style_loss_and_gradient_equal_autograd_of_a_direct_implementation(masked_run):
    objective = masked_run.objective
    image = (masked_run.image.detach() + 0.05 * torch.randn(masked_run.image.shape,
                                                             generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    ours = image.clone().requires_grad_(True)
    style = objective(ours)["style"]
    style.backward()
    direct_image = image.clone().requires_grad_(True)
    direct = direct_style_loss(objective.model, direct_image, objective.targets.regions, objective.style_layer_weights)
    direct.backward()
    assert float(style.detach()) == pytest.approx(float(direct.detach()), rel=1e-5)
    torch.testing.assert_close(ours.grad, direct_image.grad, rtol=1e-4, atol=1e-7)


@pytest.mark.slow
def test_tiled_equals_whole_with_masks(masked_run):
    # test_tiling.py's fp32 tolerances
    image = (masked_run.image.detach() + 0.05 * torch.randn(masked_run.image.shape,
                                                             generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    whole = image.clone().requires_grad_(True)
    whole_terms = masked_run.objective.loss_and_grad(whole)
    tiled = image.clone().requires_grad_(True)
    tiles = plan_tiles(*image.shape[-2:], 48)
    assert len(tiles) > 1
    tiled_terms = TiledObjective(masked_run.objective, tiles).loss_and_grad(tiled)
    for term in ("loss", "content", "style", "tv"):
        assert tiled_terms[term] == pytest.approx(whole_terms[term], rel=1e-5), term
    error = ((tiled.grad - whole.grad).abs() / whole.grad.abs().max()).max()
    assert float(error) < 1e-4


def test_all_ones_mask_is_the_unmasked_objective(tmp_path, original_weights):
    ones = write_mask(tmp_path / "ones.png", np.ones((24, 32)))
    plain = prepare(CONTENT, [STYLE], StylizeSettings(size=64, **COMMON))
    masked = prepare(CONTENT, [STYLE], StylizeSettings(size=64, masks=(ones,), **COMMON),
                     model=plain.objective.model)
    image = plain.image.detach()
    assert float(masked.objective(image)["style"]) == pytest.approx(float(plain.objective(image)["style"]), rel=1e-5)


@pytest.mark.parametrize("make,fragments", [
    (lambda d: str(d / "missing.png"), ["--masks", "missing.png"]),
    (lambda d: (d / "notes.png").write_text("not an image") and str(d / "notes.png"), ["--masks", "notes.png"]),
    (lambda d: write_mask(d / "square.png", np.ones((32, 32))), ["--masks", "square.png", "aspect ratio"]),
])
def test_bad_masks_refused_in_one_line_with_nothing_written(make, fragments, tmp_path, capsys):
    from .test_cli import _assert_one_line_error, run_cli, stylize_args

    mask = make(tmp_path)
    out = tmp_path / "out" / "result.png"
    out.parent.mkdir()
    before = snapshot(tmp_path)
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, out, "--masks", mask), capsys)
    _assert_one_line_error(code, err, 2, *fragments)
    assert snapshot(tmp_path) == before


def test_mask_count_and_style_masks_need_masks(halves):
    with pytest.raises(InputError, match="--masks: expected 1 masks"):
        prepare(CONTENT, [STYLE], StylizeSettings(size=48, masks=halves, **COMMON))
    with pytest.raises(InputError, match="--style-masks needs --masks"):
        StylizeSettings(style_masks=halves)


def style_losses(image: np.ndarray, paintings, model_run, mask: np.ndarray) -> list[float]:
    """The style loss of ``image`` under ``mask`` against each painting's (unguided) Grams: the fixed objective."""
    from stylegram.guides import guide_mass, layer_guides
    from stylegram.losses import guided_gram, style_loss
    from stylegram.tensor_images import to_tensor

    objective = model_run.objective
    guides = layer_guides(mask, objective.style_layer_weights)
    with torch.no_grad():
        features = objective.model(to_tensor(image, torch.device("cpu")))
        losses = []
        for grams in paintings:
            losses.append(sum(w * float(style_loss(guided_gram(features[n], torch.as_tensor(guides[n])[None, None],
                                                                 guide_mass(guides[n])), grams[n]))
                              for n, w in objective.style_layer_weights.items()))
    return losses


@pytest.mark.slow
def test_left_and_right_halves_each_closer_to_their_own_style(halves, original_weights):
    from stylegram.engine import stylize
    from stylegram.masks import load_mask

    scream = str(CONTENT.parent / "the_scream.jpg")
    settings = StylizeSettings(size=96, iterations=60, masks=halves, **COMMON)
    result = stylize(CONTENT, [STYLE, scream], settings)
    run = prepare(CONTENT, [STYLE, scream], settings)
    paintings = [{n: g for n, g in r.grams.items()} for r in run.targets.regions]
    size = result.image.shape[1], result.image.shape[0]
    for own, path in enumerate(halves):
        mask = load_mask(path, size, over=CONTENT, option="--masks")
        losses = style_losses(result.image, paintings, run, mask)
        assert losses[own] < 0.5 * losses[1 - own], (path, losses)


@pytest.mark.slow
def test_an_all_zero_region_stays_near_the_photo(tmp_path, original_weights):
    from stylegram.engine import stylize
    from stylegram.images import load_image

    width, height = image_size(CONTENT)
    mask = np.ones((height // 8, width // 8), np.float32)
    mask[: mask.shape[0] // 2] = 0  # the top half (the sky and the roofs): no style
    path = write_mask(tmp_path / "top-off.png", mask)
    common = dict(size=96, iterations=40, **COMMON)
    masked = stylize(CONTENT, [STYLE], StylizeSettings(masks=(path,), **common)).image
    plain = stylize(CONTENT, [STYLE], StylizeSettings(**common)).image
    photo = load_image(CONTENT, long_edge=96)
    top = slice(0, photo.shape[0] // 2 - 16)  # away from the seam, where the style's texture reaches across
    kept, changed = np.abs(masked[top] - photo[top]).mean(), np.abs(plain[top] - photo[top]).mean()
    assert kept < 0.25 * changed, (kept, changed)


def test_style_masks_change_the_cache_key_and_unmasked_runs_keep_theirs(halves, style_half, tmp_path, monkeypatch,
                                                                        original_weights):
    import hashlib
    import json
    from dataclasses import asdict

    from stylegram.runtime.cache import CacheKey

    key = CacheKey("ab" * 32, 64, 1.0, "fp")
    legacy = {k: v for k, v in asdict(key).items() if k != "style_mask"}
    assert key.digest() == hashlib.sha256(json.dumps(legacy, sort_keys=True).encode()).hexdigest()
    monkeypatch.setenv("STYLEGRAM_HOME", str(tmp_path / "home"))
    plain = StylizeSettings(size=48, scales=1, precision="fp32", targets="torch")
    masked = StylizeSettings(size=48, scales=1, precision="fp32", targets="torch", masks=halves[:1],
                             style_masks=style_half)
    first = prepare(CONTENT, [STYLE], plain)
    model = first.objective.model
    assert first.targets.style_cache == ["miss"]
    assert prepare(CONTENT, [STYLE], masked, model=model).targets.style_cache == ["miss"]
    assert prepare(CONTENT, [STYLE], plain, model=model).targets.style_cache == ["hit"]
    again = prepare(CONTENT, [STYLE], masked, model=model)
    assert again.targets.style_cache == ["hit"]
    guided = again.targets.regions[0].grams["relu1_1"]
    assert not torch.allclose(guided, first.targets.style["relu1_1"], rtol=0.05)


@pytest.mark.slow
def test_ort_computes_the_same_guided_style_targets_as_torch(halves, style_half, original_weights):
    common = dict(size=48, scales=1, precision="fp32", cache=False, masks=halves[:1], style_masks=style_half)
    by_torch = prepare(CONTENT, [STYLE], StylizeSettings(targets="torch", **common)).targets.regions[0]
    by_ort = prepare(CONTENT, [STYLE], StylizeSettings(targets="ort", **common)).targets.regions[0]
    for name, gram in by_torch.grams.items():
        torch.testing.assert_close(by_ort.grams[name], gram, rtol=1e-3, atol=1e-6)


@pytest.mark.slow
def test_masked_runs_resume_exactly_with_coarse_style_and_tiles(halves, tmp_path, original_weights):
    from stylegram.engine import stylize
    from stylegram.loop import Stop
    from stylegram.resume import save_snapshot

    settings = StylizeSettings(size=128, scales=2, iterations=8, tol=0, coarse_style=1.0, tile=64, masks=halves,
                               precision="fp32", targets="torch", cache=False)
    styles = [STYLE, CONTENT.parent / "the_scream.jpg"]
    full = stylize(CONTENT, styles, settings)
    assert full.recipe["masks"][0]["file"] == "left.png" and len(full.recipe["masks"][0]["sha256"]) == 64
    seen = []
    stopped = stylize(CONTENT, styles, settings, callback=seen.append, should_stop=lambda: seen[-1].iteration == 11)
    assert stopped.stopped is Stop.INTERRUPTED
    state = tmp_path / "run.resume.safetensors"
    save_snapshot(state, stopped.snapshot, stopped.recipe)
    resumed = stylize(CONTENT, styles, settings, resume=state)
    np.testing.assert_array_equal(resumed.image, full.image)


def test_mask_command_writes_complementary_masks(tmp_path, capsys):
    from stylegram.images import load_image

    from .test_cli import _assert_one_line_error, run_cli

    out = tmp_path / "left.png"
    code, _, _ = run_cli(["mask", CONTENT, "--split", "left", "--feather", "32", "-o", out, "-q"], capsys)
    assert code == 0
    left, right = load_image(out)[..., 0], load_image(tmp_path / "left-complement.png")[..., 0]
    assert left.shape == (768, 1024) and np.abs(left + right - 1).max() <= 1 / 255
    assert left[:, :480].min() == 1 and left[:, 544:].max() == 0 and 0 < left[0, 512] < 1
    code, _, _ = run_cli(["mask", CONTENT, "--threshold", "0.5", "-o", tmp_path / "bright.png", "-q"], capsys)
    assert code == 0 and (tmp_path / "bright-complement.png").exists()
    before = snapshot(tmp_path)
    code, _, err = run_cli(["mask", CONTENT, "--split", "middle", "-o", tmp_path / "m.png"], capsys)
    _assert_one_line_error(code, err, 2, "--split must be one of left, right, top, bottom")
    assert snapshot(tmp_path) == before


def test_manifest_masks_columns(halves, tmp_path):
    from stylegram.batch.identity import item_key
    from stylegram.batch.manifest import read_manifest

    csv = tmp_path / "items.csv"
    csv.write_text(f"content,styles,masks,colors\n{CONTENT},{STYLE};{STYLE},{halves[0]};{halves[1]},match\n"
                   f"{CONTENT},{STYLE},,\n")
    masked, plain = read_manifest(csv, StylizeSettings())
    assert masked.settings.masks == halves and masked.settings.colors == "match" and plain.settings.masks is None
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text(f'{{"content": "{CONTENT}", "styles": ["{STYLE}"], "masks": ["{halves[0]}"], '
                     f'"style_masks": ["{halves[1]}"]}}\n')
    (item,) = read_manifest(jsonl, StylizeSettings())
    assert item.settings.style_masks == halves[1:]
    assert len({item_key(masked), item_key(plain), item_key(item)}) == 3
