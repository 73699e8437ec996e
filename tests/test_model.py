import torch
import torch.nn.functional as F

from stylegram.layers import layer_names
from stylegram.model import VGG19Features


def test_outputs_are_requested_names_only(original_weights):
    model = VGG19Features(original_weights, ["relu4_2", "relu1_1"])
    out = model(torch.rand(1, 3, 40, 32))
    assert list(out) == ["relu4_2", "relu1_1"]
    assert out["relu4_2"].shape == (1, 512, 5, 4)


def test_truncated_after_deepest_layer(original_weights):
    model = VGG19Features(original_weights, ["relu3_1", "relu1_1"])
    assert list(model.layers) == list(layer_names()[: layer_names().index("relu3_1") + 1])


def test_pooling_modes(original_weights):
    avg = VGG19Features(original_weights, ["relu2_1"], pool="avg")
    mx = VGG19Features(original_weights, ["relu2_1"], pool="max")
    assert isinstance(avg.layers["pool1"], torch.nn.AvgPool2d)
    assert isinstance(mx.layers["pool1"], torch.nn.MaxPool2d)
    x = torch.rand(1, 3, 32, 32)
    assert not torch.allclose(avg(x)["relu2_1"], mx(x)["relu2_1"])


def test_frozen_and_no_inplace_relu(original_weights):
    model = VGG19Features(original_weights, ["relu5_1"])
    assert all(not p.requires_grad for p in model.parameters())
    assert all(not m.inplace for m in model.modules() if isinstance(m, torch.nn.ReLU))
    conv_out = VGG19Features(original_weights, ["conv1_1", "relu1_1"])(torch.rand(1, 3, 16, 16))
    assert (conv_out["conv1_1"] < 0).any()  # the conv output was not overwritten by the relu


def test_caffe_preprocessing_inside(original_weights):
    """RGB in [0, 1] in; the first conv must see BGR * 255 - mean, as the Caffe model expects."""
    model = VGG19Features(original_weights, ["conv1_1"])
    rgb = torch.rand(1, 3, 16, 16)
    bgr = rgb[:, [2, 1, 0]] * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    weight, bias = original_weights.tensors["conv1_1"]
    expected = F.conv2d(bgr, weight, bias, padding=1)
    torch.testing.assert_close(model(rgb)["conv1_1"], expected, rtol=1e-5, atol=1e-3)


def test_gradients_flow_to_the_image(original_weights):
    model = VGG19Features(original_weights, ["relu5_1"])
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    model(image)["relu5_1"].sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
