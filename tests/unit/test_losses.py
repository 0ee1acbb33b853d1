import pytest
import torch
import torch.nn.functional as F

from grokscope.train.losses import pair_cross_entropy, pair_mse, per_model_loss


def _reference(logits, y):
    return -logits.double().log_softmax(-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)


def test_pair_cross_entropy_matches_float64_log_softmax_from_large_to_tiny_losses():
    torch.manual_seed(0)
    logits = torch.randn(3, 50, 13) * torch.tensor([1.0, 10.0, 40.0]).view(3, 1, 1)
    y = torch.randint(0, 13, (3, 50))
    pred = logits.argmax(-1)
    ours, at_pred = pair_cross_entropy(logits, pred, (y, pred))
    torch.testing.assert_close(ours, _reference(logits, y), rtol=1e-6, atol=1e-6)
    # confident, correct predictions: losses far below float32 resolution of 1.0
    torch.testing.assert_close(at_pred, _reference(logits, pred), rtol=1e-5, atol=1e-15)
    assert (at_pred[2] < 1e-6).any() and (at_pred[2] > 0).all()  # float32 log_softmax gives 0 here


def test_pair_mse_averages_to_the_training_mse():
    logits, y = torch.randn(2, 7, 5), torch.randint(0, 5, (2, 7))
    torch.testing.assert_close(pair_mse(logits, y).mean(1), per_model_loss(logits, y, "mse", "float64"))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_softmax_ce_equals_torch_cross_entropy(dtype):
    """The training CE node (hand-written backward) equals F.cross_entropy per model: values and
    gradients to 1e-12 in float64 (measured ~1e-16), to float32 rounding in float32."""
    from grokscope.train.losses import _SoftmaxCE

    K, B, C = 3, 40, 11
    logits = (5 * torch.randn(K, B, C, dtype=torch.float64)).to(dtype).requires_grad_(True)
    labels = torch.randint(0, C, (K, B))
    ours = _SoftmaxCE.apply(logits, labels)
    ref = torch.stack([F.cross_entropy(logits[k], labels[k]) for k in range(K)])
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours, ref, **tol)
    w = torch.randn(K, dtype=dtype)
    (g_ours,) = torch.autograd.grad((ours * w).sum(), logits)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), logits)
    torch.testing.assert_close(g_ours, g_ref, **tol)
    # its backward writes the gradient over the saved exponentials, so a second backward through the
    # same graph must be refused, never computed from the overwritten tensor
    loss = _SoftmaxCE.apply(logits, labels).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="inplace"):
        loss.backward()


def test_hinge_is_the_multiclass_margin_and_with_two_classes_the_binary_hinge():
    from grokscope.train.losses import pair_hinge

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 50, 5, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, 5, (3, 50), generator=g)
    got = pair_hinge(logits, y)
    for k in range(3):
        for i in range(50):
            z = logits[k, i]
            wrong = max(z[j] for j in range(5) if j != y[k, i])
            assert got[k, i] == pytest.approx(max(0.0, 1 + float(wrong) - float(z[y[k, i]])))
    two = logits[..., :2]
    y2 = y % 2
    f, s = two[..., 1] - two[..., 0], 2.0 * y2 - 1  # margin and ±1 label
    torch.testing.assert_close(pair_hinge(two, y2), (1 - s * f).clamp(min=0))
    torch.testing.assert_close(per_model_loss(two, y2, "hinge", "float64"), (1 - s * f).clamp(min=0).mean(1))
    assert 0 < float((got == 0).double().mean()) < 1  # the data has examples on both sides of the margin
