"""A later training stage: modules frozen at an earlier stage's checkpoint
(eval mode, no gradients, out of the optimizer), loaded strictly, and left
bit-identical by training while the new module learns."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper

from _tiny import LAYOUT, cls_batch, cls_model, linear
from mm_incomplete.models.utils.staged_training import (freeze_module,
                                                        load_frozen_modules)

FROZEN = ['backbone', 'neck', 'head.heads']
OPTIM = dict(constructor='TrainableParamsOptimWrapperConstructor',
             optimizer=dict(type='AdamW', lr=1e-2, weight_decay=1e-2))


def _late(fusion: bool, **kw):
    head = dict(type='LateFusionHead', head=linear(), modalities=LAYOUT,
                decision=dict(type='CertaintyWeightedDecision'),
                fused_loss=not fusion)
    if fusion:
        head['fusion_head'] = linear(in_channels=128)
        kw.setdefault('method_losses',
                      dict(fusion=dict(type='FusionHeadLoss')))
    return cls_model(head=head, **kw)


@pytest.fixture(scope='module')
def stage1(tmp_path_factory):
    """A stage-1 checkpoint after one training step (BN statistics moved)."""
    torch.manual_seed(0)
    model = _late(fusion=False)
    model.train()
    inputs, samples = cls_batch(torch.ones(4, 2, dtype=torch.bool))
    model.loss(inputs, samples)['loss'].backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    path = str(tmp_path_factory.mktemp('stage1') / 'iter_1.pth')
    meta = dict(modality_layout=dict(names=['rgb', 'depth'],
                                     channels=[3, 1]))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return path, {k: v.clone() for k, v in model.state_dict().items()}


def _frozen_items(state):
    return {k: v for k, v in state.items()
            if k.startswith(('backbone.', 'neck.', 'head.heads.'))}


def test_stage2_trains_only_the_fusion_head(stage1):
    path, before = stage1
    torch.manual_seed(1)
    model = _late(fusion=True, frozen_modules=FROZEN, stage1_ckpt=path)
    model.init_weights()  # the runner's call before training
    state = model.state_dict()
    frozen = _frozen_items(before)
    assert frozen and all(torch.equal(state[k], v) for k, v in frozen.items())
    fusion_init = {k: v.clone() for k, v in state.items()
                   if k.startswith('head.fusion_head.')}
    wrapper = build_optim_wrapper(model, OPTIM)
    in_optim = {id(p) for g in wrapper.optimizer.param_groups
                for p in g['params']}
    assert in_optim == {id(p) for p in
                        model.head.fusion_head.parameters()}
    model.train()
    assert not model.backbone.training and not model.head.heads.training
    assert model.head.fusion_head.training
    for seed in range(3):
        data = dict(zip(('inputs', 'data_samples'), cls_batch(
            torch.tensor([[1, 1], [1, 0], [1, 1], [0, 1]]).bool(),
            seed=seed)))
        losses = model.train_step(data, wrapper)
        assert set(losses) == {'loss', 'loss_ce_fusion'}
    state = model.state_dict()
    # encoders, BN statistics and unimodal heads: bit-identical
    assert all(torch.equal(state[k], v) for k, v in frozen.items())
    assert all(not torch.equal(state[k], v) for k, v in fusion_init.items())


def test_stage2_optimizer_must_leave_the_frozen_modules_out(stage1):
    path, _ = stage1
    model = _late(fusion=True, frozen_modules=FROZEN, stage1_ckpt=path)
    wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.1)))  # mmengine default
    data = dict(zip(('inputs', 'data_samples'),
                    cls_batch(torch.ones(4, 2, dtype=torch.bool))))
    with pytest.raises(ValueError, match='holds .* frozen parameters .*'
                       'TrainableParamsOptimWrapperConstructor'):
        model.train_step(data, wrapper)


def test_load_errors_name_the_file_and_keys(stage1, tmp_path):
    path, before = stage1
    model = _late(fusion=True, frozen_modules=FROZEN,
                  stage1_ckpt=str(tmp_path / 'none.pth'))
    with pytest.raises(FileNotFoundError,
                       match=r'`stage1_ckpt`: checkpoint not found: .*none'):
        model.init_weights()
    bad = dict(before)
    del bad['backbone.branches.depth.conv1.weight']
    bad['head.heads.ir.fc.weight'] = torch.zeros(4, 64)
    torch.save(dict(state_dict=bad), tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match=r'(?s)bad\.pth does not match the '
                       r'frozen modules.*missing keys \(1\): backbone\.'
                       r'branches\.depth\.conv1\.weight.*unexpected keys '
                       r'\(1\): head\.heads\.ir\.fc\.weight'):
        load_frozen_modules(model, str(tmp_path / 'bad.pth'), FROZEN)
    meta = dict(modality_layout=dict(names=['depth', 'rgb'],
                                     channels=[1, 3]))
    torch.save(dict(state_dict=before, meta=meta), tmp_path / 'order.pth')
    with pytest.raises(ValueError, match=r'order\.pth was trained with the '
                       'modality layout'):
        load_frozen_modules(model, str(tmp_path / 'order.pth'), FROZEN)
    with pytest.raises(ValueError, match='`stage1_ckpt` is empty'):
        load_frozen_modules(model, '', FROZEN)
    with pytest.raises(ValueError, match="`frozen_modules`: the model has "
                       "no module 'head.hedas'"):
        _late(fusion=True, frozen_modules=['head.hedas'])
    with pytest.raises(ValueError, match='`frozen_modules` is empty'):
        _late(fusion=True, stage1_ckpt=path)
    # keys outside the frozen modules (stage-1-only parts) are not loaded
    extra = dict(before, **{'method_losses.shared.head.fc.weight':
                            torch.zeros(1)})
    torch.save(dict(state_dict=extra), tmp_path / 'extra.pth')
    skipped = load_frozen_modules(model, str(tmp_path / 'extra.pth'), FROZEN)
    assert skipped == ['method_losses.shared.head.fc.weight']


def test_freeze_module_stays_in_eval():
    bn = torch.nn.Sequential(torch.nn.BatchNorm1d(3))
    freeze_module(bn[0])
    bn.train()
    assert not bn[0].training and not bn[0].weight.requires_grad
    x = torch.randn(5, 3) * 4 + 2
    bn(x)
    assert torch.equal(bn[0].running_mean, torch.zeros(3))
