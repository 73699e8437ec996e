import pytest

from stylegram.errors import InputError
from stylegram.layers import (
    conv_flops,
    conv_layers,
    deepest_layer,
    layer_names,
    min_image_side,
    output_shape,
    parse_layer_list,
    vgg19_layers,
)


def test_table_has_vgg19_shape():
    names = layer_names()
    assert len(conv_layers()) == 16
    assert names[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert names[-3:] == ("conv5_4", "relu5_4", "pool5")
    assert len(names) == 37  # torchvision's features has 37 modules, same order
    assert [layer.position for layer in vgg19_layers()] == list(range(37))


def test_channels_chain():
    previous = 3
    for layer in conv_layers():
        assert layer.in_channels == previous
        previous = layer.out_channels
    assert previous == 512


@pytest.mark.parametrize("name,expected", [
    ("relu1_1", (64, 64, 48)), ("pool1", (64, 32, 24)), ("relu4_2", (512, 8, 6)), ("relu5_1", (512, 4, 3)),
])
def test_output_shape(name, expected):
    assert output_shape(name, 64, 48) == expected


def test_min_side_and_deepest():
    assert deepest_layer(["relu1_1", "relu4_2", "relu3_1"]).name == "relu4_2"
    assert min_image_side(["relu1_1"]) == 1
    assert min_image_side(["relu5_1"]) == 16
    assert min_image_side(["pool5"]) == 32


def test_parse_layer_list_errors():
    assert parse_layer_list(" relu1_1, relu2_1 ", option="--x") == ("relu1_1", "relu2_1")
    with pytest.raises(InputError, match="--style-layers: unknown layer relu9_1; valid layers are conv1_1"):
        parse_layer_list("relu1_1,relu9_1", option="--style-layers")
    with pytest.raises(InputError, match="empty"):
        parse_layer_list(" , ", option="--content-layers")
    with pytest.raises(InputError, match="more than once"):
        parse_layer_list("relu1_1,relu1_1", option="--style-layers")


def test_flops_known_value():
    # VGG19 convs on 224x224 are about 19.5 GMACs for the whole net (all 16 convs).
    flops = conv_flops(["relu5_4"], 224, 224)
    assert 38.5e9 < flops < 39.5e9
    assert conv_flops(["relu1_1"], 224, 224) == 2 * 224 * 224 * 64 * 3 * 9
