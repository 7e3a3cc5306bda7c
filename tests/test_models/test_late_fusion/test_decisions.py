"""Decision rules: masking (absent -> zero weight, one present -> exactly
its logits), values against hand computations, per pixel and per sample."""
import pytest
import torch

from mm_incomplete.models.late_fusion import (CertaintyWeightedDecision,
                                              LearnedWeightsDecision,
                                              MeanDecision,
                                              PredictiveEntropy, SumDecision,
                                              UncertaintyWeightedDecision)

NAMES = ['rgb', 'depth', 'ir']
MASK = torch.tensor([[1, 1, 1], [0, 1, 0], [1, 0, 1], [1, 1, 0]]).bool()


def _rules():
    return [MeanDecision(NAMES), SumDecision(NAMES),
            LearnedWeightsDecision(NAMES),
            CertaintyWeightedDecision(NAMES, temperature=0.5),
            UncertaintyWeightedDecision(NAMES, temperature=2.0)]


def _logits(shape):
    g = torch.Generator().manual_seed(0)
    return {n: torch.randn(shape, generator=g) * 3 for n in NAMES}


def _unc(logits):
    return {n: PredictiveEntropy()(v) for n, v in logits.items()}


@pytest.mark.parametrize('shape', [(4, 5), (4, 5, 3, 6)],
                         ids=['cls', 'seg'])
@pytest.mark.parametrize('rule', _rules(), ids=lambda r: type(r).__name__)
def test_masking(rule, shape):
    logits = _logits(shape)
    with torch.no_grad():
        rule.alpha.copy_(torch.tensor([0.3, -1., 2.])) \
            if hasattr(rule, 'alpha') else None
    out = rule(logits, MASK, _unc(logits))
    assert out.shape == shape
    # sample 1 has depth only: exactly depth's logits
    assert torch.equal(out[1], logits['depth'][1])
    # changing an absent modality's logits changes nothing
    changed = dict(logits, depth=logits['depth'] + 100.)
    torch.testing.assert_close(rule(changed, MASK, _unc(changed))[2],
                               out[2], rtol=0, atol=0)
    # a modality absent from the whole batch may be left out
    sub = MASK[[1, 3]][:, :2].clone()
    sub = torch.cat([sub, torch.zeros(2, 1, dtype=torch.bool)], 1)
    two = {n: logits[n][[1, 3]] for n in ('rgb', 'depth')}
    torch.testing.assert_close(rule(two, sub, _unc(two)), out[[1, 3]])


def test_values_against_hand_computations():
    logits = _logits((4, 5, 2, 2))
    m = MASK[0]  # all present, sample 0
    stacked = torch.stack([logits[n][0] for n in NAMES])  # (3, 5, 2, 2)
    torch.testing.assert_close(MeanDecision(NAMES)(logits, MASK)[0],
                               stacked.mean(0))
    mask3 = MASK[3]  # rgb + depth
    torch.testing.assert_close(
        MeanDecision(NAMES)(logits, MASK)[3],
        (logits['rgb'][3] + logits['depth'][3]) / 2)
    # certainty: per-pixel softmax over modalities of max prob / T
    conf = stacked.softmax(1).amax(1)  # (3, 2, 2)
    w = (conf / 0.5).softmax(0)
    torch.testing.assert_close(
        CertaintyWeightedDecision(NAMES, 0.5)(logits, MASK)[0],
        (w[:, None] * stacked).sum(0))
    # uncertainty: softmax of -u / T over present modalities
    unc = _unc(logits)
    u = torch.stack([unc[n][3] for n in ('rgb', 'depth')])  # (2, 2, 2)
    w = (-u / 2.0).softmax(0)
    torch.testing.assert_close(
        UncertaintyWeightedDecision(NAMES, 2.0)(logits, MASK, unc)[3],
        w[0, None] * logits['rgb'][3] + w[1, None] * logits['depth'][3])
    # learned weights: softmax of alpha over present modalities
    rule = LearnedWeightsDecision(NAMES)
    with torch.no_grad():
        rule.alpha.copy_(torch.tensor([1., 0., -1.]))
    w = torch.tensor([1., 0.]).softmax(0)
    torch.testing.assert_close(
        rule(logits, MASK)[3],
        w[0] * logits['rgb'][3] + w[1] * logits['depth'][3])
    assert m.all() and mask3.tolist() == [True, True, False]


def test_learned_weights_get_gradients_only_where_they_compete():
    rule = LearnedWeightsDecision(NAMES)
    logits = _logits((4, 5))
    rule(logits, MASK).pow(2).sum().backward()
    assert rule.alpha.grad is not None and rule.alpha.grad.abs().sum() > 0
    rule.alpha.grad = None
    single = torch.tensor([[0, 1, 0]]).bool()
    rule({n: v[:1] for n, v in logits.items()}, single).sum().backward()
    assert torch.count_nonzero(rule.alpha.grad) == 0  # one modality: w = 1


def test_errors():
    logits = _logits((2, 5))
    with pytest.raises(ValueError, match=r"\['ir'\] are present in the mask "
                                         'but have no logits'):
        MeanDecision(NAMES)({n: logits[n] for n in ('rgb', 'depth')},
                            torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match='needs an uncertainty'):
        UncertaintyWeightedDecision(NAMES)(logits,
                                           torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match='temperature must be > 0'):
        CertaintyWeightedDecision(NAMES, temperature=0)
    with pytest.raises(ValueError, match=r'mask must be \(B, 3\)'):
        MeanDecision(NAMES)(logits, torch.ones(2, 2, dtype=torch.bool))


def test_sum_is_the_joint_concat_classifier():
    """SumDecision = a linear classifier on concatenated features:
    W [f_rgb; f_depth] + b with W = [W_rgb, W_depth], b = b_rgb + b_depth."""
    g = torch.Generator().manual_seed(1)
    f = {n: torch.randn(3, 4, generator=g) for n in ('rgb', 'depth')}
    w = {n: torch.randn(5, 4, generator=g) for n in f}
    b = {n: torch.randn(5, generator=g) for n in f}
    logits = {n: f[n] @ w[n].t() + b[n] for n in f}
    concat = torch.cat([f['rgb'], f['depth']], 1) @ torch.cat(
        [w['rgb'], w['depth']], 1).t() + b['rgb'] + b['depth']
    full = torch.ones(3, 2, dtype=torch.bool)
    torch.testing.assert_close(SumDecision(['rgb', 'depth'])(logits, full),
                               concat)
    rgb_only = torch.tensor([[True, False]] * 3)
    assert torch.equal(SumDecision(['rgb', 'depth'])(logits, rgb_only),
                       logits['rgb'])


@pytest.mark.parametrize('shape', [(4, 5), (4, 5, 3, 6)],
                         ids=['cls', 'seg'])
def test_fusion_head_joins_only_where_every_modality_is_present(shape):
    logits = _logits(shape)
    fusion = torch.randn(shape, generator=torch.Generator().manual_seed(3))
    mask = MASK.clone()
    mask[3] = True  # samples 0 and 3 have every modality
    stacked = torch.stack([logits[n] for n in NAMES] + [fusion])  # (4, B..)
    # mean / sum: the fusion head is one more head in samples 0 and 3
    out = MeanDecision(NAMES)(logits, mask, fusion_logits=fusion)
    torch.testing.assert_close(out[[0, 3]], stacked[:, [0, 3]].mean(0))
    torch.testing.assert_close(
        out[[1, 2]], MeanDecision(NAMES)(logits, mask)[[1, 2]], rtol=0,
        atol=0)
    out = SumDecision(NAMES)(logits, mask, fusion_logits=fusion)
    torch.testing.assert_close(out[0], stacked[:, 0].sum(0))
    assert torch.equal(out[1], logits['depth'][1])  # depth only
    # certainty: softmax over the 3 modality heads + the fusion head
    rule = CertaintyWeightedDecision(NAMES, temperature=0.5)
    out = rule(logits, mask, fusion_logits=fusion)
    conf = stacked[:, 0].softmax(1).amax(1, keepdim=True)  # (4, 1, ...)
    w = (conf / 0.5).softmax(0)
    torch.testing.assert_close(out[0], (w * stacked[:, 0]).sum(0))
    assert torch.equal(out[1], logits['depth'][1])
    # a rule that weighs heads by modality cannot take it
    with pytest.raises(TypeError, match='cannot take a fusion head'):
        LearnedWeightsDecision(NAMES)(logits, mask, fusion_logits=fusion)
    with pytest.raises(ValueError, match='fusion_logits must be shaped'):
        MeanDecision(NAMES)(logits, mask, fusion_logits=fusion[:2])
