"""GaussianKLLoss: DMRNet's KL(N(mu, sigma^2) || N(0, I)) regularizer."""
import math

import pytest
import torch

from mm_incomplete.models.losses import GaussianKLLoss, gaussian_kl_divergence


def _hand_kl(mu, logvar):
    """sum_d 1/2 (sigma^2 + mu^2 - log sigma^2 - 1), plain Python."""
    return sum(0.5 * (math.exp(lv) + m * m - lv - 1)
               for m, lv in zip(mu, logvar))


def test_kl_of_vectors_matches_hand_computation():
    mu = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
    logvar = torch.tensor([[0.0, 1.0, -2.0], [0.7, -0.5, 0.1]])
    per_sample = [_hand_kl(m, lv) for m, lv in zip(mu.tolist(),
                                                    logvar.tolist())]
    torch.testing.assert_close(gaussian_kl_divergence(mu, logvar),
                               torch.tensor(per_sample))
    loss = GaussianKLLoss(loss_weight=1e-3)(mu, logvar)
    assert loss.item() == pytest.approx(1e-3 * sum(per_sample) / 2, rel=1e-6)


def test_kl_of_maps_is_a_mean_over_pixels_of_a_sum_over_channels():
    torch.manual_seed(0)
    mu, logvar = torch.randn(2, 3, 2, 4), torch.randn(2, 3, 2, 4)
    pixels = [_hand_kl(mu[b, :, i, j].tolist(), logvar[b, :, i, j].tolist())
              for b in range(2) for i in range(2) for j in range(4)]
    loss = GaussianKLLoss(loss_weight=1.0)(mu, logvar)
    assert loss.item() == pytest.approx(sum(pixels) / len(pixels), rel=1e-5)


def test_kl_is_zero_at_the_prior_and_scaled_by_weight_and_warmup():
    loss = GaussianKLLoss(loss_weight=2.0)
    assert loss(torch.zeros(4, 5), torch.zeros(4, 5)).item() == 0.0
    mu = torch.ones(1, 2)  # KL = 2 * 0.5 = 1 per sample
    assert loss(mu, torch.zeros(1, 2)).item() == pytest.approx(2.0)
    loss.loss_scale = 0.25
    assert loss(mu, torch.zeros(1, 2)).item() == pytest.approx(0.5)
    assert loss.loss_name == 'loss_kl'


def test_kl_gradient_matches_closed_form():
    mu = torch.tensor([[0.5, -1.0]], requires_grad=True)
    logvar = torch.tensor([[0.3, -0.4]], requires_grad=True)
    GaussianKLLoss(loss_weight=1.0)(mu, logvar).backward()
    torch.testing.assert_close(mu.grad, mu.detach())  # d/dmu = mu
    torch.testing.assert_close(logvar.grad,
                               0.5 * (logvar.detach().exp() - 1))


def test_kl_rejects_bad_inputs():
    with pytest.raises(ValueError, match='same shape'):
        gaussian_kl_divergence(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match='channels in'):
        gaussian_kl_divergence(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match='loss_name'):
        GaussianKLLoss(loss_name='kl')
