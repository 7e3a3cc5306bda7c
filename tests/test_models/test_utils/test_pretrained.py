"""ImageNet initialisation of the branches from a checkpoint the test
writes in the torchvision and the OpenMMLab format (same keys and shapes as
the published ResNet files)."""
import pytest
import torch
import torchvision

from mm_incomplete.models import EarlyFusionResNet, MultiBranchResNet
from mm_incomplete.models.utils.pretrained import branch_state_dict


@pytest.fixture(scope='module')
def tv_state():
    """torchvision resnet18's state dict (its own key layout), random values
    everywhere, BN statistics included."""
    torch.manual_seed(0)
    state = torchvision.models.resnet18(weights=None).state_dict()
    return {k: (torch.randn_like(v) if v.is_floating_point() else v)
            for k, v in state.items()}


def init(backbone):
    backbone.init_weights()
    return backbone


def test_torchvision_file_into_rgb_depth_hha_branches(tmp_path, tv_state):
    path = str(tmp_path / 'resnet18-tv.pth')
    torch.save(tv_state, path)
    bb = init(MultiBranchResNet(
        dict(rgb=3, depth=1, hha=3), depth=18,
        init_cfg=dict(type='PretrainedBranches', checkpoint=path)))
    for name in ('rgb', 'depth', 'hha'):
        own = bb.branches[name].state_dict()
        loaded = [k for k in own if k != 'conv1.weight'
                  and not k.endswith('num_batches_tracked')]
        # every torchvision key but fc.*, conv1 and the BN step counters
        assert len(loaded) == len(
            [k for k in tv_state if not k.startswith(('fc.', 'conv1.'))
             and not k.endswith('num_batches_tracked')])
        for key in loaded:
            assert torch.equal(own[key], tv_state[key]), (name, key)
    conv1 = tv_state['conv1.weight']
    assert torch.equal(bb.branches['rgb'].conv1.weight, conv1)
    assert torch.equal(bb.branches['hha'].conv1.weight, conv1)  # HHA as is
    # depth: ESANet's sum over the RGB input channels
    assert bb.branches['depth'].conv1.weight.shape == (64, 1, 7, 7)
    assert torch.allclose(bb.branches['depth'].conv1.weight,
                          conv1[:, 0:1] + conv1[:, 1:2] + conv1[:, 2:3])
    # the fusion blocks keep their own initialisation
    assert bb.fusions['layer1'] is not None


def test_openmmlab_file_with_mean_reduction_and_early_fusion(tmp_path,
                                                             tv_state):
    path = str(tmp_path / 'resnet18_8xb32_in1k.pth')
    state = {f'backbone.{k}': v for k, v in tv_state.items()
             if not k.startswith('fc.')}
    state['head.fc.weight'] = tv_state['fc.weight']
    state['head.fc.bias'] = tv_state['fc.bias']
    torch.save(dict(meta=dict(epoch=100), state_dict=state), path)
    assert set(branch_state_dict(torch.load(path), path)) == \
        {k for k in tv_state if not k.startswith('fc.')}
    bb = init(MultiBranchResNet(
        dict(rgb=3, depth=1), depth=18,
        init_cfg=dict(type='PretrainedBranches', checkpoint=path,
                      reduce='mean')))
    conv1 = tv_state['conv1.weight']
    assert torch.allclose(bb.branches['depth'].conv1.weight,
                          conv1.mean(1, keepdim=True))
    assert torch.equal(bb.branches['depth'].layer4[1].conv2.weight,
                       tv_state['layer4.1.conv2.weight'])
    ef = init(EarlyFusionResNet(
        dict(rgb=3, depth=1), depth=18, stem_channels=64,
        init_cfg=dict(type='PretrainedBranches', checkpoint=path)))
    assert torch.allclose(ef.conv1.weight,
                          torch.cat([conv1, conv1.sum(1, keepdim=True)], 1))
    assert torch.equal(ef.layer2[0].downsample[1].running_var,
                       tv_state['layer2.0.downsample.1.running_var'])


def test_mismatches_are_errors_naming_key_and_file(tmp_path, tv_state):
    narrow = str(tmp_path / 'narrow.pth')
    torch.save(MultiBranchResNet(dict(rgb=3), depth=18, base_channels=32)
               .branches['rgb'].state_dict(), narrow)
    bb = MultiBranchResNet(dict(rgb=3, depth=1), depth=18, init_cfg=dict(
        type='PretrainedBranches', checkpoint=narrow))
    with pytest.raises(ValueError,
                       match=r"narrow.pth: 'conv1.weight' has shape"):
        bb.init_weights()
    partial = str(tmp_path / 'partial.pth')
    torch.save({k: v for k, v in tv_state.items()
                if not k.startswith('layer4.1')}, partial)
    bb = MultiBranchResNet(dict(rgb=3, depth=1), depth=18, init_cfg=dict(
        type='PretrainedBranches', checkpoint=partial))
    with pytest.raises(KeyError, match=r"partial.pth.*missing.*layer4\.1"):
        bb.init_weights()
    full = str(tmp_path / 'full.pth')
    torch.save(tv_state, full)
    bb = MultiBranchResNet(dict(rgb=3, flow=2), depth=18, init_cfg=dict(
        type='PretrainedBranches', checkpoint=full))
    with pytest.raises(ValueError, match='2 input channels'):
        bb.init_weights()
