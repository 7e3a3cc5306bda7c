"""Distillation / KL / similarity losses stay fp32 under bf16 autocast.

A tiny student and teacher (convolutions, bf16 under autocast) feed every
loss of mm_incomplete.models.losses; each loss must come out float32, finite,
equal to the same loss computed without autocast from the same (bf16)
tensors, and send finite gradients to the student.
"""
import pytest
import torch
import torch.nn as nn

from mm_incomplete.models.losses import (FeatureMSEDistillLoss,
                                         GaussianKLLoss, LogitKLDistillLoss,
                                         MarginAwareDistillLoss, fp32_loss)
from mm_incomplete.models.losses.margin_aware_distill_loss import \
    similarity_relation_loss_factored


class Tiny(nn.Module):
    """(B, 3, H, W) -> features (B, 8, H, W), logits (B, 4, H, W),
    mu / logvar (B, 8, H, W)."""

    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.feat = nn.Conv2d(3, 8, 3, padding=1)
        self.cls = nn.Conv2d(8, 4, 1)
        self.logvar = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        f = self.feat(x)
        return f, self.cls(f), f, self.logvar(f)


def losses(s, t):
    (f_s, l_s, mu, logvar), (f_t, l_t, _, _) = s, t
    return {
        'logit_kl': LogitKLDistillLoss(tau=2.0)(l_s, l_t),
        'feature_mse': FeatureMSEDistillLoss()(f_s, f_t),
        'gaussian_kl': GaussianKLLoss(loss_weight=1.0)(mu, logvar),
        'mad': MarginAwareDistillLoss(pool_size=None)(f_s, f_t, l_t),
    }


def test_losses_fp32_under_bf16_autocast():
    student, teacher = Tiny(0), Tiny(1)
    x = torch.randn(2, 3, 8, 8) * 3
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out_s, out_t = student(x), teacher(x)
        assert out_s[0].dtype == torch.bfloat16  # autocast is active
        got = losses(out_s, out_t)
    # reference: the same bf16 tensors, fp32 maths, no autocast
    ref = losses([o.detach().float() for o in out_s],
                 [o.detach().float() for o in out_t])
    for name, value in got.items():
        assert value.dtype == torch.float32, name
        assert torch.isfinite(value), name
        torch.testing.assert_close(value.detach(), ref[name], rtol=1e-5,
                                   atol=1e-6, msg=name)
    sum(got.values()).backward()
    for p in student.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


def test_without_the_guard_autocast_changes_the_similarity():
    """The guard matters: under autocast the Gram products of MAD run in
    bf16 although their inputs were cast with .float()."""
    g = torch.Generator().manual_seed(0)
    f_s, f_t = torch.randn(64, 16, generator=g), torch.randn(64, 16,
                                                           generator=g)
    ref = similarity_relation_loss_factored(f_s, f_t)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        guarded = similarity_relation_loss_factored(f_s, f_t)
        raw = similarity_relation_loss_factored.__wrapped__(f_s, f_t)
    torch.testing.assert_close(guarded, ref)
    assert (raw.float() - ref).abs().max() > 1e-3


def test_fp32_loss_casts_keywords_and_keeps_others():
    @fp32_loss
    def f(a, b=None, n=3, idx=None):
        return a.dtype, b.dtype, n, idx.dtype

    a = torch.ones(2, dtype=torch.bfloat16)
    b = torch.ones(2, dtype=torch.float16)
    idx = torch.arange(2)
    assert f(a, b=b, idx=idx) == (torch.float32, torch.float32, 3,
                                  torch.int64)
    # fp64 (the exactness tests) is not lowered
    d = torch.ones(2, dtype=torch.float64)
    assert f(d, b=d, idx=idx)[:2] == (torch.float64, torch.float64)


@pytest.mark.parametrize('name', ['gaussian_kl', 'logit_kl'])
def test_bf16_overflow_region_is_finite(name):
    """exp() of large log-variances / logits: inf in bf16 would be inf in
    fp16, but fp32 keeps them finite."""
    big = torch.full((2, 4), 60.0, dtype=torch.bfloat16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        if name == 'gaussian_kl':
            v = GaussianKLLoss(loss_weight=1.0)(big * 0, big)
        else:
            v = LogitKLDistillLoss()(big, big * 0)
    assert v.dtype == torch.float32 and torch.isfinite(v)
