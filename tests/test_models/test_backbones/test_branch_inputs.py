"""MultiBranchResNet's branch input source: a hallucination branch that
reads another modality (one-stage modality distillation)."""
import pytest
import torch

from mm_incomplete.models.backbones import MultiBranchResNet

RGBD = dict(rgb=3, depth=1)


def hallucinating(**kwargs):
    torch.manual_seed(0)
    cfg = dict(modalities=RGBD, depth=18, base_channels=8,
               branch_inputs=dict(depth='rgb'), feedback='rgb',
               fusion=dict(type='CrossTranslationFusion'))
    cfg.update(kwargs)
    return MultiBranchResNet(**cfg).eval()


def test_the_branch_reads_its_source_and_ignores_its_own_channels():
    model = hallucinating()
    assert model.branches['depth'].conv1.in_channels == 3
    seen = []
    model.branches['depth'].conv1.register_forward_hook(
        lambda m, args, out: seen.append(args[0]))
    x = torch.rand(2, 4, 32, 32)
    rgb_only = torch.tensor([[True, False], [True, False]])
    out = model(x, rgb_only)
    assert torch.equal(seen[0], x[:, :3])
    # the real depth does not matter, present or not
    y = x.clone()
    y[:, 3] = torch.rand(2, 32, 32)
    for a, b in zip(out, model(y, torch.ones(2, 2, dtype=torch.bool))):
        assert torch.allclose(a, b)


def test_branch_runs_where_its_source_is_present():
    model = hallucinating(feedback=None, out_indices=(3, ))
    calls = []
    model.branches['depth'].layer1.register_forward_hook(
        lambda m, args, out: calls.append(out.shape[0]))
    mask = torch.tensor([[True, False], [True, True], [True, False]])
    model(torch.rand(3, 4, 32, 32), mask)
    assert calls == [3]  # all three samples: their rgb is present
    feats = model.encode(torch.rand(3, 4, 32, 32), mask)
    assert set(feats) == {'rgb', 'depth'}
    assert len(model.fuse(feats, mask)) == 1


def test_no_source_present_is_an_error_naming_the_option():
    model = hallucinating()
    with pytest.raises(ValueError, match='branch_inputs'):
        model(torch.rand(2, 4, 32, 32),
              torch.tensor([[True, True], [False, True]]))


def test_branch_inputs_are_checked():
    with pytest.raises(ValueError, match="'ir' -> 'rgb'"):
        hallucinating(branch_inputs=dict(ir='rgb'))
    with pytest.raises(ValueError, match="'depth' -> 'hha'"):
        hallucinating(branch_inputs=dict(depth='hha'))
    with pytest.raises(TypeError, match='branch_inputs must be a dict'):
        hallucinating(branch_inputs=['rgb'])
