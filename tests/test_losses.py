import torch

from stylegram.losses import content_loss, gram_matrix, style_loss, tv_loss


def test_gram_matches_definition():
    features = torch.randn(2, 5, 4, 3)
    flat = features.reshape(2, 5, 12)
    expected = flat @ flat.transpose(1, 2) / (5 * 12)
    torch.testing.assert_close(gram_matrix(features), expected)


def test_gram_of_channels_last_features_is_the_same_with_the_same_gradient():
    features = torch.randn(1, 16, 9, 7, dtype=torch.float64)
    last = features.contiguous(memory_format=torch.channels_last)
    assert not last.is_contiguous()  # takes the rows path
    torch.testing.assert_close(gram_matrix(last), gram_matrix(features))
    grads = []
    for x in (features, last):
        x = x.clone().requires_grad_(True)
        (gram_matrix(x) * torch.arange(256, dtype=torch.float64).reshape(16, 16)).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[1], grads[0])


def test_gram_is_size_independent_for_tiled_features():
    base = torch.rand(1, 8, 4, 4)
    tiled = base.repeat(1, 1, 3, 2)
    torch.testing.assert_close(gram_matrix(base), gram_matrix(tiled))


def test_losses_are_relative_and_zero_at_target():
    target = torch.rand(1, 4, 6, 6) + 0.1
    assert content_loss(target, target) == 0
    assert torch.isclose(content_loss(torch.zeros_like(target), target), torch.tensor(1.0), atol=1e-6)
    assert torch.isclose(content_loss(10 * target, 10 * target * 2), content_loss(target, target * 2))
    g = gram_matrix(target)
    assert style_loss(g, g) == 0
    assert torch.isclose(style_loss(torch.zeros_like(g), g), torch.tensor(1.0), atol=1e-6)


def test_tv_loss():
    flat = torch.full((1, 3, 8, 8), 0.5)
    assert tv_loss(flat) == 0
    stripes = flat.clone()
    stripes[..., ::2] = 0.0
    assert tv_loss(stripes) > 0.2


def test_prescaled_gram_is_the_same_normalization():
    features = torch.rand(1, 64, 32, 24) * 300
    torch.testing.assert_close(gram_matrix(features, prescale=True), gram_matrix(features), rtol=1e-5, atol=0)
