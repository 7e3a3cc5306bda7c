"""Tests of MultiBranchResNet: shapes, masks, skipped branches, encode/fuse."""
import pytest
import torch
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from mm_incomplete.models.backbones import MultiBranchResNet

RGBD = dict(rgb=3, depth=1)


def small(**kwargs):
    cfg = dict(modalities=RGBD, depth=18, base_channels=8)
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MultiBranchResNet(**cfg)


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda *args: calls.append(1))
    return calls


@pytest.mark.parametrize('depth,expansion', [(18, 1), (34, 1), (50, 4)])
def test_shapes_at_every_stage(depth, expansion):
    model = small(depth=depth)
    outs = model(torch.rand(2, 4, 32, 64))
    assert [tuple(o.shape) for o in outs] == [
        (2, 8 * 2**i * expansion, 8 // 2**i, 16 // 2**i) for i in range(4)]
    assert model.out_channels == [8 * 2**i * expansion for i in range(4)]


def test_out_indices_and_feedback_shapes():
    model = small(out_indices=(1, 3), stem_channels=4, deep_stem=True)
    assert [tuple(o.shape) for o in model(torch.rand(2, 4, 32, 32))] == [
        (2, 16, 4, 4), (2, 64, 1, 1)]
    fb = small(feedback='rgb')
    assert set(fb.fusions) == {'stem', 'layer1', 'layer2', 'layer3',
                               'layer4'}
    assert [tuple(o.shape) for o in fb(torch.rand(2, 4, 32, 32))] == [
        (2, 8, 8, 8), (2, 16, 4, 4), (2, 32, 2, 2), (2, 64, 1, 1)]


def test_registered_in_both_scopes():
    for registry in (MMSEG_MODELS, MMPRETRAIN_MODELS):
        model = registry.build(dict(type='MultiBranchResNet',
                                    modalities='rgb:3,depth:1', depth=18,
                                    base_channels=4))
        assert model.layout.names == ('rgb', 'depth')


@pytest.mark.parametrize('feedback', [None, 'rgb'])
def test_masked_modality_has_no_effect_and_no_gradient(feedback):
    model = small(feedback=feedback).train()  # BN in batch-statistics mode
    mask = torch.tensor([[True, True], [True, False], [False, True]])
    x = torch.randn(3, 4, 32, 32)
    y = x.clone()
    y[1, 3] = torch.randn(32, 32) * 10   # depth of sample 1 (masked)
    y[2, :3] = torch.randn(3, 32, 32) * 10  # rgb of sample 2 (masked)
    for a, b in zip(model(x, mask), model(y, mask)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    x.requires_grad_(True)
    sum(o.square().sum() for o in model(x, mask)).backward()
    assert x.grad[1, 3].abs().sum() == 0 and x.grad[2, :3].abs().sum() == 0
    assert x.grad[1, :3].abs().sum() > 0 and x.grad[2, 3].abs().sum() > 0


def test_branch_masked_for_whole_batch_does_not_run():
    model = small()
    depth_calls = count_calls(model.branches['depth'].conv1)
    depth_se = count_calls(model.fusions['layer4'].se['depth'])
    rgb_calls = count_calls(model.branches['rgb'].conv1)
    rgb_only = torch.tensor([[True, False], [True, False]])
    outs = model(torch.randn(2, 4, 32, 32), rgb_only)
    assert (len(depth_calls), len(depth_se), len(rgb_calls)) == (0, 0, 1)
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is None for p in model.branches['depth'].parameters())
    assert model.branches['rgb'].conv1.weight.grad is not None


def test_branch_runs_only_on_present_samples():
    model = small()
    seen = []
    model.branches['depth'].conv1.register_forward_hook(
        lambda m, inp, out: seen.append(inp[0].shape[0]))
    two = torch.tensor([[True, True], [True, False], [True, True]])
    one = torch.tensor([[True, True], [True, False], [True, False]])
    x = torch.randn(3, 4, 32, 32)
    model.eval()(x, one)
    model.train()(x, two)
    # training with one present sample: BN cannot normalise a single 1x1
    # map, so the branch runs on the batch with the others' inputs zeroed
    out_one = model(x, one)
    assert seen == [1, 2, 3]
    y = x.clone()
    y[1:, 3] = 100.
    for a, b in zip(out_one, model(y, one)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_encode_once_fuse_many_equals_forward():
    model = small().eval()
    x = torch.randn(2, 4, 32, 32)
    rgb_calls = count_calls(model.branches['rgb'].conv1)
    feats = model.encode(x)
    assert set(feats) == {'rgb', 'depth'} and len(feats['rgb']) == 4
    for combo in ([True, True], [True, False], [False, True]):
        mask = torch.tensor([combo, combo])
        with torch.no_grad():
            fused = model.fuse(feats, mask)
            direct = model(x, mask)
        for a, b in zip(fused, direct):
            torch.testing.assert_close(a, b)
    assert len(rgb_calls) == 1 + 2  # encode once + the two direct rgb runs


def test_mean_reduce_divides_by_present_modalities():
    model = small().eval()
    x = torch.randn(1, 4, 32, 32)
    feats = model.encode(x)
    full = model.fuse(feats, torch.tensor([[True, True]]))[3]
    total = small(fusion=dict(type='SqueezeExciteFusion', reduce='sum'))
    total.load_state_dict(model.state_dict())
    total.eval()
    torch.testing.assert_close(
        full, (feats['rgb'][3] + feats['depth'][3]) / 2)
    torch.testing.assert_close(
        total(x, torch.tensor([[True, True]]))[3],
        feats['rgb'][3] + feats['depth'][3])


def test_errors_name_the_option():
    with pytest.raises(ValueError, match='backbone.feedback'):
        small(feedback='ir')
    with pytest.raises(ValueError, match='backbone.depth'):
        small(depth=20)
    with pytest.raises(ValueError, match='backbone.out_indices'):
        small(out_indices=(4, ))
    model = small().eval()
    with pytest.raises(ValueError, match='needs 4'):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r'\(B=1, M=2\)'):
        model(torch.randn(1, 4, 32, 32), torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'no modality .* samples \[0\]'):
        model(torch.randn(1, 4, 32, 32), torch.zeros(1, 2, dtype=torch.bool))
    with pytest.raises(RuntimeError, match='parallel form'):
        small(feedback='rgb').encode(torch.randn(1, 4, 32, 32))
    feats = model.encode(torch.randn(1, 4, 32, 32),
                         torch.tensor([[True, False]]))
    with pytest.raises(ValueError, match="'depth' is present"):
        model.fuse(feats, torch.tensor([[True, True]]))
