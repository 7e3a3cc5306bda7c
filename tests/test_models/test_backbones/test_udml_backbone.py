"""UDMLBackbone: the fusion weights against an independent computation
(masked, M = 3, the release's two-modality formula), where they act, the
estimator's detached input, and the reliance buffer saved, restored and
used at evaluation."""
import itertools
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as CLS_MODELS
from mmpretrain.structures import DataSample

from mm_incomplete.modality import set_modality_masks
from mm_incomplete.models.backbones import (UDMLBackbone,
                                            udml_fusion_weights)


def _reference_weights(sigma, mask, reliance):
    """float64 loops over samples and modalities, the direct formula
    n_b (sigma_m^-2 / R_m) / sum_j sigma_j^-2 / R_j."""
    b, m = sigma.shape
    out = torch.zeros(b, m, dtype=torch.float64)
    for i in range(b):
        present = [j for j in range(m) if mask[i, j]]
        u = {j: 1.0 / (float(sigma[i, j])**2 * float(reliance[j]))
             for j in present}
        total = sum(u.values())
        for j in present:
            out[i, j] = len(present) * u[j] / total
    return out


@pytest.mark.parametrize('num', [2, 3])
def test_weights_match_reference_every_mask(num):
    g = torch.Generator().manual_seed(num)
    masks = [c for c in itertools.product([0, 1], repeat=num) if any(c)]
    mask = torch.tensor(masks, dtype=torch.bool)
    sigma = torch.rand(len(masks), num, generator=g) * 10 + 0.5
    reliance = torch.rand(num, generator=g) * 30 + 1
    w = udml_fusion_weights(2 * sigma.log(), mask, reliance)
    ref = _reference_weights(sigma, mask, reliance)
    torch.testing.assert_close(w.double(), ref, rtol=1e-5, atol=1e-6)
    assert torch.all(w[~mask] == 0)
    torch.testing.assert_close(w.sum(1), mask.sum(1).float())
    # one present modality: weight 1 whatever sigma and R
    single = mask.sum(1) == 1
    torch.testing.assert_close(w[single].sum(1), torch.ones(single.sum()))


def test_weights_equal_release_formula_for_two_present():
    g = torch.Generator().manual_seed(0)
    sa, sv = torch.rand(6, generator=g) + 0.2, torch.rand(6, generator=g) + 2
    ra, rv = 32.0, 10.0  # the release's default reliance
    ta = 2 * sv**2 / (sa**2 + sv**2)
    tv = 2 * sa**2 / (sa**2 + sv**2)
    ua, uv = ta / ra, tv / rv
    wa, wv = 2 * ua / (ua + uv), 2 * uv / (ua + uv)
    w = udml_fusion_weights(2 * torch.stack([sa, sv], 1).log(),
                            torch.ones(6, 2, dtype=torch.bool),
                            torch.tensor([ra, rv]))
    torch.testing.assert_close(w, torch.stack([wa, wv], 1))


def test_weights_shape_errors():
    with pytest.raises(ValueError, match='reliance'):
        udml_fusion_weights(torch.ones(2, 2), torch.ones(2, 2).bool(),
                            torch.ones(3))


def test_vanishing_reliance_or_sigma_gives_the_limit_not_nan():
    """R_m -> 0+ (an EMA of the L1 norm of a dead branch's logits underflows
    to 0) and sigma -> 0+: the weights are their limit, finite, rows sum
    to n_b."""
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [0, 1, 1], [1, 0, 0]]).bool()
    sigma = torch.tensor([[1.0, 2.0, 3.0]] * 4)
    o = 2 * sigma.log()
    # R_rgb = 0: every present row gives rgb all the weight (n_b)
    w = udml_fusion_weights(o, mask, torch.tensor([0.0, 5.0, 2.0]))
    assert torch.isfinite(w).all()
    expect = torch.tensor([[3.0, 0, 0], [2.0, 0, 0], [0, 0, 0], [1.0, 0, 0]])
    # the third row has no rgb: its weights do not involve R_rgb
    expect[2] = _reference_weights(sigma[2:3], mask[2:3],
                                   torch.tensor([1.0, 5.0, 2.0]))[0].float()
    torch.testing.assert_close(w, expect, atol=1e-6, rtol=0)
    # every R = 0: the limit of equal R, sigma alone decides
    w = udml_fusion_weights(o, mask, torch.zeros(3))
    torch.testing.assert_close(
        w, _reference_weights(sigma, mask, torch.ones(3)).float())
    # a subnormal R and a sigma whose sigma^-2 overflows float32
    tiny_sigma = torch.tensor([[1e-30, 2.0, 3.0]] * 4)
    for s, r in ((sigma, torch.tensor([1e-40, 1.0, 1.0])),
                 (tiny_sigma, torch.ones(3))):
        w = udml_fusion_weights(2 * s.log(), mask, r)
        assert torch.isfinite(w).all()
        torch.testing.assert_close(w.sum(1), mask.sum(1).float())
        assert w[0, 0] == pytest.approx(3.0)
    # no present modality: zero weights, not NaN
    w = udml_fusion_weights(o[:1], torch.zeros(1, 3).bool(),
                            torch.ones(3))
    assert torch.equal(w, torch.zeros(1, 3))
    # ... which fuse never asks for: it refuses such a mask
    with pytest.raises(ValueError, match='keeps no modality'):
        _backbone()(torch.rand(2, 4, 32, 32),
                    torch.tensor([[1, 1], [0, 0]]).bool())


def test_fuse_with_zero_reliance_stays_finite():
    torch.manual_seed(0)
    bb = _backbone().eval()
    bb.set_weights_active(True)
    bb.reliance.zero_()
    bb.reliance[1] = 4.0
    with torch.no_grad():
        out = bb(torch.rand(2, 4, 32, 32))
    assert all(torch.isfinite(o).all() for o in out)
    torch.testing.assert_close(bb.last_stats.weights,
                               torch.tensor([[2.0, 0.0]] * 2))


def test_broken_reliance_is_refused_naming_modality_and_value():
    state = _backbone().state_dict()
    for bad in (-0.5, float('nan'), float('inf')):
        state['reliance'] = torch.tensor([1.0, bad])
        with pytest.raises(ValueError, match=f"reliance of 'depth' is "
                           f"{bad!r}".replace('.', r'\.')):
            _backbone().load_state_dict(state)
    state['reliance'] = torch.tensor([0.0, 2.0])  # a dead branch: allowed
    bb = _backbone()
    bb.load_state_dict(state)
    assert bb.reliance.tolist() == [0.0, 2.0]
    for bad in (0.0, float('nan'), -1.0):
        with pytest.raises(ValueError, match='init_reliance'):
            UDMLBackbone(dict(type='MultiBranchResNet',
                              modalities=dict(rgb=3, depth=1), depth=18,
                              base_channels=8, out_indices=(3, )),
                         init_reliance=dict(rgb=1.0, depth=bad))


def _backbone():
    return UDMLBackbone(dict(type='MultiBranchResNet',
                             modalities=dict(rgb=3, depth=1), depth=18,
                             base_channels=8, out_indices=(2, 3)),
                        hidden=16)


def _manual_fuse(bb, feats, mask, active):
    """Independent path: embed (eval: mu), estimate, weigh, scale, fuse."""
    names = bb.layout.names
    sigma = torch.ones(mask.shape)
    z = {}
    for m, n in enumerate(names):
        out = bb.embeddings[n](feats[n][-1])
        z[n] = out.mu
        std = (0.5 * out.logvar).exp().mean((2, 3))
        sigma[:, m] = (bb.estimators[n].net(std).squeeze(1) / 2).exp()
    w = _reference_weights(sigma, mask, bb.reliance).float() if active \
        else mask.float()
    scaled = {n: [f * (1 + w[:, m]).view(-1, 1, 1, 1)
                  for f in list(feats[n][:-1]) + [z[n]]]
              for m, n in enumerate(names)}
    return bb.backbone.fuse(scaled, mask), w


def test_fuse_matches_independent_path_and_weights_act_at_every_stage():
    torch.manual_seed(0)
    bb = _backbone().eval()
    x = torch.rand(3, 4, 32, 32)
    mask = torch.tensor([[1, 1], [1, 1], [0, 1]]).bool()
    bb.reliance.copy_(torch.tensor([3.0, 0.5]))
    with torch.no_grad():
        feats = bb.encode(x, mask)
        for active in (False, True):
            bb.set_weights_active(active)
            out = bb.fuse(feats, mask)
            ref, w = _manual_fuse(bb, feats, mask, active)
            for o, r in zip(out, ref):
                torch.testing.assert_close(o, r)
            torch.testing.assert_close(bb.last_stats.weights, w)
    # the weights changed both fused stages (not only the embedded one)
    bb.set_weights_active(False)
    with torch.no_grad():
        off = bb.fuse(feats, mask)
    assert all(not torch.allclose(a[:2], b[:2]) for a, b in zip(off, out))


def _cls_model():
    init_default_scope('mmpretrain')
    cfg = Config.fromfile('configs/udml/synthetic_cls_cpu.py')
    return CLS_MODELS.build(cfg.model)


def _cls_batch(n=4, level=None):
    samples = [DataSample(metainfo=dict(noise_level=dict(
        rgb=(level or 1 + 3 * i), depth=1 + i))).set_gt_label(i % 8)
        for i in range(n)]
    set_modality_masks(samples, torch.ones(n, 2, dtype=torch.bool))
    return samples


def test_estimator_learns_only_from_its_mse():
    torch.manual_seed(0)
    model = _cls_model()
    model.backbone.set_weights_active(True)  # sigma feeds the fusion
    losses = model.loss(torch.rand(4, 4, 32, 32), _cls_batch())
    est = [p for n, p in model.named_parameters() if '.estimators.' in n]
    others = sum(v for k, v in losses.items()
                 if 'loss' in k and k != 'loss_estimator')
    model.zero_grad()
    others.backward(retain_graph=True)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in est)
    model.zero_grad()
    losses['loss_estimator'].backward()
    assert all(p.grad is not None for p in est)
    assert sum(p.grad.abs().sum() for p in est) > 0
    # ... and the MSE reaches nothing but the estimators
    for n, p in model.named_parameters():
        if '.estimators.' not in n and p.grad is not None:
            assert p.grad.abs().sum() == 0, n


def test_reliance_saved_restored_and_used_at_evaluation():
    torch.manual_seed(0)
    model = _cls_model()
    before = model.backbone.reliance.clone()
    model.loss(torch.rand(4, 4, 32, 32), _cls_batch())
    assert not torch.equal(model.backbone.reliance, before)  # EMA moved
    model.backbone.reliance.copy_(torch.tensor([7.0, 0.25]))
    model.backbone.set_weights_active(True)
    state = model.state_dict()
    assert torch.equal(state['backbone.reliance'], torch.tensor([7.0, 0.25]))
    assert bool(state['backbone.weights_active'])

    torch.manual_seed(1)
    fresh = _cls_model()
    assert torch.equal(fresh.backbone.reliance, torch.ones(2))
    fresh.load_state_dict(state)
    assert torch.equal(fresh.backbone.reliance, torch.tensor([7.0, 0.25]))
    fresh.eval()
    x = torch.rand(2, 4, 32, 32)
    mask = torch.ones(2, 2, dtype=torch.bool)
    with torch.no_grad():
        out = fresh.predict_combinations(x, [DataSample(), DataSample()])
        feats = fresh.backbone.encode(x, mask)
        fused, _ = _manual_fuse(fresh.backbone, feats, mask, True)
        ref = fresh.head(fresh.neck(fused)).softmax(1)
        both = torch.stack([s.pred_score for s in out['rgb+depth']])
        torch.testing.assert_close(both, ref)
        # a different reliance gives a different evaluation
        fresh.backbone.reliance.copy_(torch.tensor([0.25, 7.0]))
        again = fresh.predict_combinations(x, [DataSample(), DataSample()])
    other = torch.stack([s.pred_score for s in again['rgb+depth']])
    assert not torch.allclose(other, both)


def _force_estimates(bb, outputs):
    """Make estimator m output ``outputs[m]`` (o = log sigma^2) for every
    sample: zero weight, bias o on the last linear layer."""
    with torch.no_grad():
        for name, o in zip(bb.layout.names, outputs):
            last = bb.estimators[name].net[-1]
            last.weight.zero_()
            last.bias.fill_(o)


def _reference_weights_from_outputs(outputs, mask, reliance):
    """The direct formula in float64, sigma^-2 = exp(-o): exact for
    |o| < ~700 (where float32's exp(o / 2) has long overflowed)."""
    b, m = mask.shape
    out = torch.zeros(b, m, dtype=torch.float64)
    for i in range(b):
        present = [j for j in range(m) if mask[i, j]]
        u = {j: math.exp(-float(outputs[i, j])) / float(reliance[j])
             for j in present}
        total = sum(u.values())
        for j in present:
            out[i, j] = len(present) * u[j] / total
    return out


@pytest.mark.parametrize('outputs', [(200.0, 250.0), (-200.0, -250.0),
                                     (200.0, -100.0), (-100.0, 200.0),
                                     (180.0, 179.0), (-90.0, 3.0)])
def test_fuse_weights_exact_and_finite_for_extreme_estimator_outputs(
        outputs):
    """o above ~177 overflows float32's sigma = exp(o / 2) and o below ~-175
    underflows it; the weights must still be the formula's (float64
    reference), finite, rows summing to n_b, and the fused features
    finite."""
    torch.manual_seed(0)
    bb = _backbone().eval()
    bb.set_weights_active(True)
    bb.reliance.copy_(torch.tensor([3.0, 0.5]))
    _force_estimates(bb, outputs)
    mask = torch.tensor([[1, 1], [1, 1], [0, 1], [1, 0]]).bool()
    with torch.no_grad():
        out = bb(torch.rand(4, 4, 32, 32), mask)
    w = bb.last_stats.weights
    ref = _reference_weights_from_outputs(
        torch.tensor([outputs] * 4, dtype=torch.float64), mask, bb.reliance)
    assert torch.isfinite(w).all(), w
    torch.testing.assert_close(w.double(), ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w.sum(1), mask.sum(1).to(w.dtype))
    assert all(torch.isfinite(o).all() for o in out)


@pytest.mark.parametrize('num', [2, 3])
def test_weights_from_extreme_outputs_match_float64_formula(num):
    """o anywhere in [-300, 300] (float32's exp(o / 2) over- or underflows
    for most of it), every mask: the float64 direct formula, rows sum to
    n_b."""
    g = torch.Generator().manual_seed(10 + num)
    masks = [c for c in itertools.product([0, 1], repeat=num) if any(c)]
    mask = torch.tensor(masks * 4, dtype=torch.bool)
    o = (torch.rand(mask.shape, generator=g) - 0.5) * 600
    o[:len(masks)] = 200.0  # ties far beyond the overflow
    o[len(masks):2 * len(masks)] = -200.0
    reliance = torch.rand(num, generator=g) * 30 + 0.01
    w = udml_fusion_weights(o, mask, reliance)
    assert w.dtype == torch.float32 and torch.isfinite(w).all()
    ref = _reference_weights_from_outputs(o.double(), mask, reliance)
    torch.testing.assert_close(w.double(), ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w.sum(1), mask.sum(1).float())
    assert torch.all(w[~mask] == 0)
    # reduced precision in, float32 out (the softmax is not run in bf16)
    wb = udml_fusion_weights(o.bfloat16(), mask, reliance)
    assert wb.dtype == torch.float32 and torch.isfinite(wb).all()


def test_training_weights_are_detached_and_the_estimate_is_not():
    """The weights come from a detached o (no path from the fused features
    to the estimator); the recorded o carries the estimator's graph for its
    MSE."""
    torch.manual_seed(0)
    bb = _backbone().train()
    bb.set_weights_active(True)
    out = bb(torch.rand(3, 4, 32, 32),
             torch.tensor([[1, 1], [1, 0], [0, 1]]).bool())
    stats = bb.last_stats
    assert stats.log_sigma2.requires_grad
    assert not stats.weights.requires_grad
    sum(o.sum() for o in out).backward()
    est = [p for n, p in bb.named_parameters() if n.startswith('estimators')]
    assert all(p.grad is None for p in est)
    torch.testing.assert_close(stats.sigma,
                               (stats.log_sigma2 / 2).exp().detach())
