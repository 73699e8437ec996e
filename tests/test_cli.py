"""The command line: success path and every bad input of the stylize command."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stylegram.cli import main
from stylegram.images import read_recipe

from .conftest import CONTENT, STYLE, snapshot


def run_cli(args, capsys):
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stylize_args(content, style, output, *extra):
    return ["stylize", content, style, "-o", output, "--size", "32", "--iterations", "2", "--quiet", *extra]


def test_stylize_writes_png_with_recipe(tmp_path, capsys):
    out = tmp_path / "result.png"
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, out, "--save-every", "1", "--seed", "7"), capsys)
    assert code == 0, err
    recipe = read_recipe(out)
    assert recipe["settings"]["seed"] == 7 and recipe["settings"]["size"] == 32
    assert recipe["content"]["file"] == "tubingen.jpg" and len(recipe["styles"][0]["sha256"]) == 64
    assert (tmp_path / "result.iter00001.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.iter00001.png", "result.png"]


def test_jpeg_output(tmp_path, capsys):
    out = tmp_path / "result.jpg"
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, out), capsys)
    assert code == 0, err
    assert out.read_bytes()[:2] == b"\xff\xd8" and read_recipe(out)["settings"]["iterations"] == 2


def _assert_one_line_error(code, err, expected_code, *fragments):
    assert code == expected_code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stylegram: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], err


@pytest.mark.parametrize("which,fragments", [
    ("missing", ["missing.jpg", "file not found"]),
    ("directory", ["folder.jpg", "is a directory"]),
    ("text", ["notes.jpg", "not an image file"]),
    ("truncated", ["truncated.jpg", "damaged or truncated"]),
    ("tiny1", ["tiny1.png", "1x1 px", "at least 16 px"]),
    ("tiny8", ["tiny8.png", "8x8 px", "at least 16 px"]),
    ("huge", ["huge.png", "too many pixels"]),
])
def test_bad_images(which, fragments, bad_images, tmp_path, capsys):
    out = tmp_path / "out" / "result.png"
    out.parent.mkdir()
    before = snapshot(tmp_path)
    for args in (stylize_args(bad_images[which], STYLE, out), stylize_args(CONTENT, bad_images[which], out)):
        code, _, err = run_cli(args, capsys)
        _assert_one_line_error(code, err, 2, *fragments)
    assert snapshot(tmp_path) == before  # no output, nothing changed


@pytest.mark.parametrize("extra,fragments", [
    (["--style-layers", "relu1_1,relu9_9"], ["--style-layers", "relu9_9", "valid layers are conv1_1"]),
    (["--content-layers", "conv0"], ["--content-layers", "conv0"]),
    (["--iterations", "0"], ["--iterations must be positive"]),
    (["--iterations", "-5"], ["--iterations must be positive"]),
    (["--size", "0"], ["--size must be a positive"]),
    (["--style-weight", "0"], ["--style-weight must be positive"]),
    (["--content-weight", "-1"], ["--content-weight must be >= 0"]),
    (["--tv-weight", "-0.5"], ["--tv-weight must be >= 0"]),
    (["--style-blend", "1,2"], ["--style-blend: expected 1 weights"]),
    (["--style-blend", "x"], ["--style-blend: expected comma-separated numbers"]),
    (["--optimizer", "sgd"], ["--optimizer must be one of lbfgs, adam"]),
    (["--device", "tpu"], ["--device tpu"]),
    (["--save-every", "-1"], ["--save-every must be >= 0"]),
    (["--weights", "/nonexistent/vgg19.pth"], ["--weights /nonexistent/vgg19.pth: file not found"]),
    (["--bogus"], ["No such option: --bogus"]),
])
def test_bad_options(extra, fragments, tmp_path, capsys):
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, tmp_path / "r.png", *extra), capsys)
    _assert_one_line_error(code, err, 2, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_output_folder_missing_or_readonly(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, tmp_path / "nope" / "r.png"), capsys)
    _assert_one_line_error(code, err, 2, "--output", "does not exist")
    readonly = tmp_path / "ro"
    readonly.mkdir(mode=0o555)
    # root ignores directory modes, so also make the access check itself see a read-only folder
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == readonly else real_access(p, mode))
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, readonly / "r.png"), capsys)
    _assert_one_line_error(code, err, 2, "--output", "is not writable")
    assert list(readonly.iterdir()) == []


def test_refuses_to_overwrite_input_and_unknown_format(tmp_path, capsys):
    content = tmp_path / "photo.png"
    from PIL import Image
    Image.open(CONTENT).resize((64, 48)).save(content)
    before = content.read_bytes()
    code, _, err = run_cli(stylize_args(content, STYLE, content), capsys)
    _assert_one_line_error(code, err, 2, "is also an input image")
    assert content.read_bytes() == before
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, tmp_path / "r.gif"), capsys)
    _assert_one_line_error(code, err, 2, "unknown image extension .gif")


def test_corrupted_weights(tmp_path, capsys):
    bad = tmp_path / "vgg19.pth"
    bad.write_bytes(b"PK\x03\x04 corrupted")
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, tmp_path / "r.png", "--weights", bad), capsys)
    _assert_one_line_error(code, err, 2, "vgg19.pth", "cannot be loaded")
    assert not (tmp_path / "r.png").exists()


def test_nan_exits_1_and_keeps_last_good_image(tmp_path, capsys):
    out = tmp_path / "r.png"
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, out, "--iterations", "10", "--lr", "1e38"), capsys)
    _assert_one_line_error(code, err, 1, "became NaN or infinite", "kept the image of iteration 1", str(out))
    assert read_recipe(out) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["r.png"]


def test_real_process_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stylegram", "stylize", str(tmp_path / "none.jpg"), str(STYLE),
                           "-o", str(tmp_path / "r.png")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"stylegram: error: content image {tmp_path / 'none.jpg'}: file not found"


def test_layers_and_doctor(capsys):
    code, out, _ = run_cli(["layers", "--size", "64", "--height", "48"], capsys)
    assert code == 0
    assert "relu5_1         512       3       4" in out
    code, out, _ = run_cli(["doctor"], capsys)
    assert code == 0
    assert "sha256 verified" in out and "CPUExecutionProvider" in out


@pytest.mark.slow
def test_stylize_reports_cache_hit_and_bad_models(tmp_path, capsys, private_home):
    args = ["stylize", CONTENT, STYLE, "-o", tmp_path / "a.png", "--size", "32", "--iterations", "1"]
    assert run_cli(args, capsys)[0] == 0
    code, _, err = run_cli(args, capsys)
    assert code == 0 and "style targets: ort, cache hit" in err
    code, _, err = run_cli([*args, "--no-cache", "--targets", "torch"], capsys)
    assert code == 0 and "style targets: torch, cache off" in err
    not_onnx = tmp_path / "m.onnx"
    not_onnx.write_text("nope")
    for model, fragment in ((tmp_path / "none.onnx", "file not found"), (not_onnx, "cannot load it")):
        code, _, err = run_cli(stylize_args(CONTENT, STYLE, tmp_path / "b.png", "--model", model), capsys)
        _assert_one_line_error(code, err, 2, str(model), fragment)
    code, _, err = run_cli(["export", "-o", tmp_path / "other.onnx", "--style-layers", "relu1_1", "-q"], capsys)
    assert code == 0, err
    code, _, err = run_cli(stylize_args(CONTENT, STYLE, tmp_path / "b.png", "--model", tmp_path / "other.onnx"), capsys)
    _assert_one_line_error(code, err, 2, "built for other settings", "style layers")
    assert not (tmp_path / "b.png").exists()
