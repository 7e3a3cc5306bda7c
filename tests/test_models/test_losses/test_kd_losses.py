"""The plain distillation baselines against hand computations."""
import math

import pytest
import torch

from mm_incomplete.models.losses import (FeatureMSEDistillLoss,
                                         LogitKLDistillLoss)


def test_logit_kl_hand_computation_with_temperature():
    tau = 2.0
    zs = torch.tensor([[0., 2.]])
    zt = torch.tensor([[2., 0.]])

    def soft(z):
        e = [math.exp(v / tau) for v in z]
        return [v / sum(e) for v in e]

    ps, pt = soft([0., 2.]), soft([2., 0.])
    kl = sum(a * math.log(a / b) for a, b in zip(pt, ps))
    loss = LogitKLDistillLoss(tau=tau, loss_weight=0.5)
    assert loss(zs, zt).item() == pytest.approx(0.5 * tau ** 2 * kl,
                                                rel=1e-6)


def test_logit_kl_per_pixel_mean_and_zero_when_equal():
    torch.manual_seed(0)
    zs, zt = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    loss = LogitKLDistillLoss(tau=1.0)
    per_pixel = [loss(zs[b, :, i, j][None], zt[b, :, i, j][None])
                 for b in range(2) for i in range(3) for j in range(3)]
    assert loss(zs, zt).item() == pytest.approx(
        torch.stack(per_pixel).mean().item(), rel=1e-5)
    assert loss(zs, zs).item() == pytest.approx(0.0, abs=1e-7)


def test_feature_mse_and_no_teacher_gradient():
    fs = torch.tensor([[1., 3.]], requires_grad=True)
    ft = torch.tensor([[0., 1.]], requires_grad=True)
    out = FeatureMSEDistillLoss(loss_weight=2.0)(fs, ft)
    assert out.item() == pytest.approx(2.0 * (1 + 4) / 2)
    out.backward()
    assert ft.grad is None
    assert fs.grad.tolist() == [[2.0, 4.0]]


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match='differ in shape'):
        FeatureMSEDistillLoss()(torch.zeros(1, 2), torch.zeros(1, 3))
    with pytest.raises(ValueError, match='tau'):
        LogitKLDistillLoss(tau=0)
