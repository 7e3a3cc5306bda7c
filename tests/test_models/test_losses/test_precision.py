"""Distillation / KL / similarity / kernel losses stay fp32 under bf16
autocast.

Shorthand: B batch (2), C channels (8), K classes (4), h x w map (8 x 8).

A tiny student and teacher (convolutions, bf16 under autocast) feed every
such loss (KD, Gaussian KL, MAD; one-stage's MMD / JMMD, transfer-decoder
KD and CTN reconstruction; MMH's RAD / DAD; DI-MML's DUC; UDML's KL and
estimator MSE); each loss must come out float32, finite, equal to the same
loss computed without autocast from the same (bf16) tensors, and send
finite gradients to the student.
"""
import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope

from mm_incomplete.models.losses import (
    CrossTranslationReconstructionLoss, DiscrepancyAwareDistillLoss,
    FeatureMSEDistillLoss, GaussianKLLoss, JointMMDLoss, LogitKLDistillLoss,
    MarginAwareDistillLoss, ModalityTransferLoss, MultiKernelMMDLoss,
    RegionAwareDistillLoss, fp32_loss)
from mm_incomplete.models.losses.margin_aware_distill_loss import \
    similarity_relation_loss_factored
from mm_incomplete.models.losses.mmd import gaussian_kernel_matrix
from mm_incomplete.models.methods.duc_loss import duc_pair_loss
from mm_incomplete.models.methods.udml_loss import estimator_mse, gaussian_kl
from mm_incomplete.models.utils.cross_translation import \
    CrossTranslationFusion


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

    @fp32_loss
    def nested(feats, named, module):
        return [x.dtype for x in feats] + [named['x'].dtype], module

    lin = nn.Linear(2, 2)
    got = nested((a, b), dict(x=a), lin)
    assert got == ([torch.float32] * 3, lin)
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


# -- the other methods' distribution / similarity / kernel losses -----------
# Tolerance: both sides start from the same bf16 tensors and do fp32 maths
# on the same CPU kernels, so they agree to float32 rounding; rtol 1e-5
# (about 80 float32 ulps) is far below bf16's relative step 2^-8 ~ 4e-3, so
# any part left in bf16 (a Gram product, a pooling, an exp) fails it.
TOL = dict(rtol=1e-5, atol=1e-6)


def _method_losses():
    """name -> loss(student outputs, teacher outputs); modules built once so
    that the autocast run and the fp32 reference share their weights."""
    torch.manual_seed(2)
    cls_s, cls_t = nn.Linear(8, 4), nn.Linear(8, 4)
    rad_att = RegionAwareDistillLoss(weighting='attention', loss_weight=1.0)
    valid = torch.rand(128) > 0.2
    prior = torch.tensor([0.6, 1.3])
    levels = torch.tensor([[1.0, 0.4], [0.7, 1.0]])
    present = torch.tensor([[True, False], [True, True]])

    def rows(f):
        return f.permute(0, 2, 3, 1).reshape(-1, f.shape[1])

    return {
        'mmd': lambda s, t: MultiKernelMMDLoss()(s[0], t[0]),
        'jmmd': lambda s, t: JointMMDLoss()([s[0]], [t[0]], s[1], t[1]),
        'rad_logits_attention': lambda s, t: rad_att(s[1], t[1]),
        'rad_classifier_strength': lambda s, t: RegionAwareDistillLoss(
            weighting='strength')(s[0], t[0], classifier_s=cls_s,
                                  classifier_t=cls_t),
        'dad_global': lambda s, t: DiscrepancyAwareDistillLoss(
            samples='image')(s[0], t[0]),
        'dad_knn': lambda s, t: DiscrepancyAwareDistillLoss(
            samples='pixel', knn=5)(s[0], t[0]),
        'duc': lambda s, t: duc_pair_loss(rows(s[0]), rows(t[0]), valid,
                                          50.0),
        'udml_kl': lambda s, t: gaussian_kl(s[2], s[3], prior).mean(),
        'udml_estimator': lambda s, t: estimator_mse(
            s[0][:, :2, 0, 0], levels, present),
    }


@pytest.mark.parametrize('name', sorted(_method_losses()))
def test_method_losses_fp32_under_bf16_autocast(name):
    loss = _method_losses()[name]
    student, teacher = Tiny(0), Tiny(1)
    x = torch.randn(2, 3, 8, 8) * 3
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out_s, out_t = student(x), teacher(x)
        assert out_s[0].dtype == torch.bfloat16
        got = loss(out_s, out_t)
    ref = loss([o.detach().float() for o in out_s],
               [o.detach().float() for o in out_t])
    assert got.dtype == torch.float32 and torch.isfinite(got)
    torch.testing.assert_close(got.detach(), ref, **TOL)
    got.backward()
    grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize('name', ['kernel', 'duc'])
def test_without_the_guard_autocast_changes_kernels_and_similarities(name):
    """``.float()`` inside is not enough: autocast runs the products in
    bf16 (the reason for the guard)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 16, generator=g), torch.randn(64, 16, generator=g)
    if name == 'kernel':
        fn = gaussian_kernel_matrix
        args = (x, y + 0.1)
    else:
        fn = duc_pair_loss
        args = (x, y, torch.ones(64, dtype=torch.bool), 0.5)
    ref = fn(*args)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        guarded, raw = fn(*args), fn.__wrapped__(*args)
    torch.testing.assert_close(guarded, ref, **TOL)
    assert (raw.float() - ref).abs().max() > 1e-3


def test_transfer_decoder_stays_bf16_its_kd_and_jmmd_are_fp32():
    """One-stage's ModalityTransferLoss: the transfer decoder (a network)
    runs in bf16 under autocast; its KD and JMMD terms equal the fp32 maths
    on the decoder's bf16 outputs."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    head = dict(type='FCNHead', in_channels=8, channels=8, num_convs=1,
                num_classes=4, in_index=-1, concat_input=False)
    loss = ModalityTransferLoss(
        decoder=dict(head=head), context='head.convs', jmmd_stages=(0, ),
        kd=dict(type='LogitKLDistillLoss', tau=2.0),
        jmmd=dict(type='JointMMDLoss')).eval()
    student, teacher = Tiny(0), Tiny(1)
    x = torch.randn(2, 3, 8, 8) * 3
    with torch.autocast('cpu', dtype=torch.bfloat16):
        (f_s, *_), (f_t, l_t, *_) = student(x), teacher(x)
        out = loss((f_s, ), (f_t, ), f_t, l_t)
        logits_s = loss.decoder((f_s, ))
        ctx_s = loss.decoder.head.convs(f_s)
    assert logits_s.dtype == ctx_s.dtype == torch.bfloat16
    f_s, f_t, l_t = f_s.detach().float(), f_t.float(), l_t.float()
    logits_s, ctx_s = logits_s.float(), ctx_s.float()
    ref = dict(
        loss_kd=LogitKLDistillLoss(tau=2.0)(logits_s, l_t),
        loss_jmmd=JointMMDLoss()([f_s, ctx_s], [f_t, f_t], logits_s, l_t))
    assert set(out) == set(ref)
    for key, value in out.items():
        assert value.dtype == torch.float32, key
        torch.testing.assert_close(value.detach(), ref[key], **TOL)


def test_ctn_reconstruction_error_is_fp32():
    torch.manual_seed(0)
    ctn = CrossTranslationFusion(['rgb', 'depth'], channels=8).train()
    errors = []
    ctn.reconstruction.register_forward_hook(
        lambda m, args, out: errors.append((args, out)))
    student, teacher = Tiny(0), Tiny(1)
    x = torch.randn(2, 3, 8, 8) * 3
    mask = torch.tensor([[True, True], [True, False]])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        fused = ctn(dict(rgb=student(x)[0], depth=teacher(x)[0]), mask)
        total = CrossTranslationReconstructionLoss()(
            [errors[0][1], errors[0][1] * 3])
    assert fused.dtype == torch.bfloat16  # the block itself is not forced
    (recon, feats, weights), err = errors[0]
    assert recon.dtype == torch.bfloat16 and err.dtype == torch.float32
    ref = ctn.reconstruction(recon.detach().float(), feats.detach().float(),
                             weights.float())
    torch.testing.assert_close(err.detach(), ref, **TOL)
    assert total.dtype == torch.float32
    torch.testing.assert_close(total.detach(), 2 * ref, **TOL)
