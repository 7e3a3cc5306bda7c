"""CTN fusion block vs its formula (M = 2) and its masked generalisation."""
import pytest
import torch
import torch.nn.functional as F

from mm_incomplete.models.utils.cross_translation import \
    CrossTranslationFusion


def _randomise(block, seed=0):
    g = torch.Generator().manual_seed(seed)
    for p in block.parameters():
        p.data = torch.randn(p.shape, generator=g) * 0.5


def _conv(seq, x):
    """ReLU(Conv1x1 with bias) from the block's own weights, by hand."""
    conv = seq[0]
    return F.relu(F.conv2d(x, conv.weight, conv.bias))


def test_two_modalities_follow_the_papers_formula():
    ctn = CrossTranslationFusion(['rgb', 'depth'], channels=8)
    _randomise(ctn)
    g = torch.Generator().manual_seed(1)
    fa, fp = torch.randn(3, 8, 5, 4, generator=g), torch.randn(
        3, 8, 5, 4, generator=g)
    t1, t2 = ctn.translators
    assert t1[0].weight.shape == (4, 8, 1, 1) and t1[0].bias is not None
    joint = torch.cat([(_conv(t1, fa) + _conv(t1, fp)) / 2,
                       (_conv(t2, fp) + _conv(t2, fa)) / 2], dim=1)
    fused = F.relu(F.conv2d(joint, ctn.joint[0].weight, ctn.joint[0].bias))
    out = ctn(dict(rgb=fa, depth=fp), torch.ones(3, 2, dtype=torch.bool))
    assert torch.allclose(out, fused, atol=1e-6)
    # the reconstructions cat[T_1(f), T_2(f)] of each modality
    assert torch.allclose(ctn.translate(fa),
                          torch.cat([_conv(t1, fa), _conv(t2, fa)], 1))
    assert torch.allclose(ctn.translate(fp),
                          torch.cat([_conv(t1, fp), _conv(t2, fp)], 1))
    # the block holds exactly T_1, T_2 and the joint conv (no BN)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in ctn.modules())


def test_masked_generalisation_to_three_modalities():
    names = ['rgb', 'depth', 'ir']
    ctn = CrossTranslationFusion(names, channels=9)
    _randomise(ctn, seed=2)
    g = torch.Generator().manual_seed(3)
    feats = {n: torch.randn(4, 9, 3, 3, generator=g) for n in names}
    mask = torch.tensor([[True, True, True], [True, False, False],
                         [False, True, True], [True, False, True]])
    out = ctn(feats, mask)
    for b in range(4):
        present = [n for n, k in zip(names, mask[b]) if k]
        parts = [sum(_conv(t, feats[n][b:b + 1]) for n in present) /
                 len(present) for t in ctn.translators]
        ref = _conv(ctn.joint, torch.cat(parts, 1))
        assert torch.allclose(out[b:b + 1], ref, atol=1e-6), b
    # a masked modality's features do not matter
    changed = dict(feats, ir=feats['ir'] + 10 * (~mask[:, 2]).float().view(
        -1, 1, 1, 1))
    assert torch.allclose(ctn(changed, mask), out)


def test_modality_absent_for_the_whole_batch_may_be_missing():
    ctn = CrossTranslationFusion(['rgb', 'depth'], channels=4)
    x = torch.randn(2, 4, 3, 3)
    mask = torch.tensor([[True, False], [True, False]])
    single = ctn(dict(rgb=x), mask)
    # one modality: each part is T_j(f_rgb) alone
    assert torch.allclose(single, _conv(ctn.joint, ctn.translate(x)))
    with pytest.raises(ValueError, match="'depth' is present"):
        ctn(dict(rgb=x), torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match='no modality'):
        ctn(dict(rgb=x, depth=x), torch.tensor([[True, False],
                                                 [False, False]]))
    with pytest.raises(ValueError, match=r'mask must be \(B, 2\)'):
        ctn(dict(rgb=x), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match='divisible'):
        CrossTranslationFusion(['rgb', 'depth', 'ir'], channels=8)


def test_reconstruction_error_is_recorded_in_training_only():
    ctn = CrossTranslationFusion(['rgb', 'depth'], channels=4)
    seen = []
    ctn.reconstruction.register_forward_hook(
        lambda m, a, out: seen.append(out))
    g = torch.Generator().manual_seed(4)
    fa, fp = torch.randn(3, 4, 2, 2, generator=g), torch.randn(
        3, 4, 2, 2, generator=g)
    mask = torch.tensor([[True, True], [True, False], [True, True]])
    ctn.eval()
    ctn(dict(rgb=fa, depth=fp), mask)
    assert seen == []
    ctn.train()
    ctn(dict(rgb=fa, depth=fp), mask)
    assert len(seen) == 1
    def err(f, b):
        return ((ctn.translate(f[b:b + 1]) - f[b:b + 1])**2).mean()

    errs = [err(fa, b) for b in range(3)] + [err(fp, b) for b in (0, 2)]
    assert float(seen[0]) == pytest.approx(float(sum(errs) / 5), rel=1e-5)
    seen[0].backward()
    assert ctn.translators[0][0].weight.grad is not None


def test_fusion_block_convention_of_the_backbone():
    from mmengine.registry import MODELS
    block = MODELS.build(dict(type='CrossTranslationFusion',
                              modalities=('rgb', 'depth'), channels=8))
    x = torch.randn(1, 8, 2, 2)
    assert block.recalibrate('rgb', x) is x
    with pytest.raises(KeyError, match='no modality'):
        block.recalibrate('ir', x)
