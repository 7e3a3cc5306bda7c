"""DI-MML plug-ins: detached per-modality losses, the shared head, the DUC
loss and its dimension split (hand example, save/load, the hook's pass),
certainty-aware weighting of the model's heads, and no global reseeding."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as CLS_MODELS
from mmpretrain.structures import DataSample

from mm_incomplete.engine.hooks import DUCSplitHook
from mm_incomplete.modality import ModalityLayout, set_modality_masks
from mm_incomplete.models.methods import (DUCLoss, ForwardRecord,
                                          SharedHeadLoss, UnimodalTaskLoss,
                                          discriminative_dims, duc_pair_loss)
from mm_incomplete.models.methods.duc_loss import sample_pixels

LAYOUT = dict(rgb=3, depth=1)


def _reference_duc(target, source, valid, temperature):
    """float64 loops: mean over valid i of -log softmax over valid j."""
    t, s = target.double(), source.double()
    idx = [i for i in range(len(valid)) if valid[i]]
    total = 0.0
    for i in idx:
        row = [float(t[i] @ s[j]) / temperature for j in idx]
        top = max(row)
        lse = top + math.log(sum(math.exp(r - top) for r in row))
        total += lse - float(t[i] @ s[i]) / temperature
    return total / max(len(idx), 1)


@pytest.mark.parametrize('temperature', [0.5, 1.0, 50.0])
def test_duc_pair_loss_matches_reference_and_detaches_source(temperature):
    torch.manual_seed(0)
    target = torch.randn(7, 5, requires_grad=True)
    source = torch.randn(7, 5, requires_grad=True)
    valid = torch.tensor([1, 1, 0, 1, 1, 0, 1]).bool()
    loss = duc_pair_loss(target, source, valid, temperature)
    ref = _reference_duc(target.detach(), source.detach(), valid, temperature)
    assert loss.item() == pytest.approx(ref, rel=1e-5, abs=1e-6)
    loss.backward()
    assert source.grad is None  # the source side is detached
    assert target.grad[valid].abs().sum() > 0
    assert target.grad[~valid].abs().sum() == 0  # invalid rows do not learn


def test_duc_pair_loss_large_logits_stay_finite():
    """log-sum-exp: dot products of 1e4 do not overflow."""
    t = torch.full((3, 2), 100.0)
    t[1] = -100.0
    loss = duc_pair_loss(t, t.clone(), torch.ones(3).bool(), 0.01)
    assert torch.isfinite(loss)
    assert duc_pair_loss(t, t, torch.zeros(3).bool(), 1.0).item() == 0.0


def test_discriminative_dims_hand_example():
    # dim 0 separates the classes (accuracy 1), dim 1 is noise shared by
    # both classes (accuracy 1/2), dim 2 separates three of four (3/4);
    # mean accuracy 3/4: only dim 0 beats it
    feats = torch.tensor([[0., 1., 0.], [0., -1., 0.],
                          [5., 1., 5.], [5., -1., -1.]])
    labels = torch.tensor([0, 0, 1, 1])
    assert discriminative_dims(feats, labels, 2).tolist() == \
        [True, False, False]
    # chunking does not change the answer
    assert discriminative_dims(feats, labels, 2, chunk=1).tolist() == \
        [True, False, False]
    # a class without samples gets no prototype
    assert discriminative_dims(feats, labels, 5).tolist() == \
        [True, False, False]


def test_duc_loss_pairs_split_state_roundtrip():
    loss = DUCLoss('rgb:3,depth:1,ir:1', feat_dim=4)
    assert not loss.ready and loss.pair_dims() == {}
    split = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]]).bool()
    loss.set_split(split)
    pairs = {k: v.tolist() for k, v in loss.pair_dims().items()}
    assert pairs == {('rgb', 'depth'): [0], ('rgb', 'ir'): [0, 1],
                     ('depth', 'rgb'): [2], ('depth', 'ir'): [1, 2],
                     ('ir', 'rgb'): [3], ('ir', 'depth'): [3]}
    fresh = DUCLoss('rgb:3,depth:1,ir:1', feat_dim=4)
    fresh.load_state_dict(loss.state_dict())  # checkpoint / resume
    assert fresh.ready and torch.equal(fresh.discriminative, split)
    assert {k: v.tolist() for k, v in fresh.pair_dims().items()} == pairs
    with pytest.raises(ValueError, match=r'split must be \(M, D\) = \(3, 4\)'):
        fresh.set_split(torch.ones(2, 4).bool())


def _cls_record(mask, feats, labels, logits=None):
    layout = ModalityLayout(LAYOUT)
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return ForwardRecord(task='cls', layout=layout, mask=mask,
                         host_mask=mask, inputs=torch.zeros(len(labels), 4, 8,
                                                            8),
                         data_samples=samples, modal_feats=feats,
                         modal_logits=logits)


def test_duc_loss_on_record_uses_only_samples_with_both_modalities():
    torch.manual_seed(1)
    mask = torch.tensor([[1, 1], [1, 1], [1, 0], [1, 1]]).bool()
    feats = {n: [torch.randn(4, 4, 2, 2, requires_grad=True)]
             for n in ('rgb', 'depth')}
    loss = DUCLoss(LAYOUT, feat_dim=4, temperature=2.0)
    zero = loss(_cls_record(mask, feats, [0, 1, 0, 1]))['loss_duc']
    assert zero.item() == 0.0  # no split yet
    loss.set_split(torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]]).bool())
    out = loss(_cls_record(mask, feats, [0, 1, 0, 1]))['loss_duc']
    pooled = {n: f[0].detach().mean((2, 3)) for n, f in feats.items()}
    both = torch.tensor([True, True, False, True])
    ref = _reference_duc(pooled['depth'][:, [0]], pooled['rgb'][:, [0]],
                         both, 2.0) + \
        _reference_duc(pooled['rgb'][:, [2, 3]], pooled['depth'][:, [2, 3]],
                       both, 2.0)
    assert out.item() == pytest.approx(ref, rel=1e-5)
    out.backward()
    # rgb learns only on depth's own dims (2, 3), depth on rgb's (0)
    grad_rgb = feats['rgb'][0].grad.abs().sum((0, 2, 3))
    grad_depth = feats['depth'][0].grad.abs().sum((0, 2, 3))
    assert (grad_rgb[[2, 3]] > 0).all() and (grad_rgb[[0, 1]] == 0).all()
    assert grad_depth[0] > 0 and (grad_depth[1:] == 0).all()


def test_sample_pixels_only_labelled_and_same_positions():
    torch.manual_seed(0)
    feats = {'rgb': torch.randn(2, 3, 4, 4), 'depth': torch.randn(2, 3, 4, 4)}
    labels = torch.full((2, 8, 8), 255)
    labels[0, :4, :4] = 1  # 4 labelled cells at 4 x 4 in sample 0
    vecs, y, rows, valid = sample_pixels(feats, labels, max_pixels=6)
    assert vecs['rgb'].shape == (6, 3) and int(valid.sum()) == 4
    assert (y[valid] == 1).all() and (rows[valid] == 0).all()
    # the same pixels in both modalities: the values match the maps
    for n in feats:
        flat = feats[n].permute(0, 2, 3, 1).reshape(-1, 3)
        picked = {tuple(v.tolist()) for v in vecs[n][valid]}
        want = {tuple(flat[i].tolist()) for i in (0, 1, 4, 5)}
        assert picked == want


def test_unimodal_and_shared_losses_count_present_samples_only():
    torch.manual_seed(0)
    mask = torch.tensor([[1, 1], [1, 0], [0, 1]]).bool()
    logits = {'rgb': torch.randn(3, 4), 'depth': torch.randn(3, 4)}
    labels = [0, 3, 2]
    rec = _cls_record(mask, None, labels, logits)
    out = UnimodalTaskLoss(loss_weight=0.5)(rec)
    y = torch.tensor(labels)
    assert out['loss_ce_rgb'].item() == pytest.approx(
        0.5 * F.cross_entropy(logits['rgb'][:2], y[:2]).item(), rel=1e-6)
    assert out['loss_ce_depth'].item() == pytest.approx(
        0.5 * F.cross_entropy(logits['depth'][[0, 2]], y[[0, 2]]).item(),
        rel=1e-6)
    feats = {n: [torch.randn(3, 8, 2, 2, requires_grad=True)]
             for n in ('rgb', 'depth')}
    shared = SharedHeadLoss(head=dict(type='LinearClsHead', num_classes=4,
                                      in_channels=8))
    out = shared(_cls_record(mask, feats, labels))
    fc = shared.head.fc
    want = F.cross_entropy(fc(feats['depth'][0].detach().mean((2, 3))[[0, 2]]),
                           y[[0, 2]])
    assert out['loss_shared_depth'].item() == pytest.approx(want.item(),
                                                            rel=1e-5)
    out['loss_shared_rgb'].backward()
    g = feats['rgb'][0].grad.abs().sum((1, 2, 3))
    assert g[0] > 0 and g[1] > 0 and g[2] == 0  # sample 2 has no rgb


def _model():
    init_default_scope('mmpretrain')
    cfg = Config.fromfile('configs/dimml/synthetic_cls_cpu.py')
    return CLS_MODELS.build(cfg.model)


def test_dimml_model_detached_and_certainty_weighted():
    torch.manual_seed(0)
    model = _model()
    samples = [DataSample().set_gt_label(i % 8) for i in range(4)]
    set_modality_masks(samples, torch.ones(4, 2, dtype=torch.bool))
    losses = model.loss(torch.rand(4, 4, 32, 32), samples)
    assert 'loss' not in losses and not any(
        k.startswith('loss_cls') or k == 'loss' for k in losses)
    assert {'loss_ce_rgb', 'loss_ce_depth', 'loss_shared_rgb',
            'loss_shared_depth', 'loss_duc'} <= set(losses)
    # detached: rgb's own loss reaches no depth parameter
    model.zero_grad()
    losses['loss_ce_rgb'].backward()
    depth_grads = [p.grad for n, p in model.named_parameters()
                   if 'depth' in n and p.grad is not None]
    assert all(g.abs().sum() == 0 for g in depth_grads)
    assert model.backbone.branches['rgb'].conv1.weight.grad.abs().sum() > 0
    # inference: one present head gives exactly its logits; both present
    # give the certainty-weighted mix
    model.eval()
    x = torch.rand(2, 4, 32, 32)
    with torch.no_grad():
        modal = model._modal_heads(model.backbone.encode(
            x, torch.ones(2, 2, dtype=torch.bool)))
        out = model.predict_combinations(x, [DataSample(), DataSample()])
    rgb_scores = torch.stack([s.pred_score for s in out['rgb']])
    assert torch.allclose(rgb_scores, modal['rgb'].softmax(1), atol=1e-6)
    conf = torch.stack([modal[n].softmax(1).amax(1) for n in
                        ('rgb', 'depth')])
    w = conf.softmax(0)
    mix = (w[:, :, None] * torch.stack([modal['rgb'], modal['depth']])).sum(0)
    both = torch.stack([s.pred_score for s in out['rgb+depth']])
    assert torch.allclose(both, mix.softmax(1), atol=1e-6)


class _TinyClsSet(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(6, 4, 32, 32, generator=g) * 255
        self.y = [0, 1, 0, 1, 0, 1]

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return dict(inputs=self.x[i],
                    data_samples=DataSample().set_gt_label(self.y[i]))


def test_duc_split_hook_sets_split_once_and_keeps_mode():
    torch.manual_seed(0)
    model = _model()
    model.train()
    loader = SimpleNamespace(dataset=_TinyClsSet(), batch_size=4)
    runner = SimpleNamespace(model=model, train_dataloader=loader, iter=0,
                             epoch=0)
    hook = DUCSplitHook(begin=2)
    hook.before_train(runner)
    duc = model.method_losses['duc']
    hook.before_train_iter(runner, 0)
    assert not duc.ready
    runner.iter = 2
    hook.before_train_iter(runner, 0)
    assert duc.ready and model.training
    split = duc.discriminative.clone()
    # recomputing from the same features (eval mode) gives the same split
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(dict(
            inputs=list(loader.dataset.x),
            data_samples=[loader.dataset[i]['data_samples']
                          for i in range(6)]), False)
        feats = model.backbone.encode(data['inputs'],
                                      torch.ones(6, 2, dtype=torch.bool))
    labels = torch.tensor(loader.dataset.y)
    for row, name in enumerate(('rgb', 'depth')):
        ref = discriminative_dims(feats[name][-1].mean((2, 3)), labels, 2)
        assert torch.equal(split[row], ref)
    runner.iter = 3
    duc.discriminative.zero_()  # a second call must not recompute
    hook.before_train_iter(runner, 0)
    assert not duc.discriminative.any()
    with pytest.raises(ValueError, match='no DUCLoss'):
        DUCSplitHook(begin=0).before_train(SimpleNamespace(
            model=torch.nn.Linear(1, 1)))


@pytest.mark.parametrize('config', ['configs/dimml/synthetic_cls_cpu.py',
                                    'configs/dimml/synthetic_seg_cpu.py'])
def test_datasets_do_not_reseed_global_rngs(config, monkeypatch):
    """DI-MML's release calls np.random.seed(999) in every __getitem__ (the
    same frames every time); loading a sample here must not seed any global
    generator."""
    import random

    from mmengine.registry import DATASETS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)

    def forbidden(*args, **kwargs):
        raise AssertionError('a dataset reseeded a global generator')

    for module, name in ((np.random, 'seed'), (torch, 'manual_seed'),
                         (random, 'seed'), (np.random, 'set_state'),
                         (torch, 'set_rng_state')):
        monkeypatch.setattr(module, name, forbidden)
    for i in range(3):
        dataset[i]


def test_dimml_seg_config_trains_a_step_with_duc():
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS as SEG_MODELS
    from mmseg.structures import SegDataSample
    init_default_scope('mmseg')
    cfg = Config.fromfile('configs/dimml/synthetic_seg_cpu.py')
    torch.manual_seed(0)
    model = SEG_MODELS.build(cfg.model)
    duc = model.method_losses['duc']
    duc.set_split(torch.arange(128).remainder(3).eq(0).repeat(2, 1) ^
                  torch.tensor([[False], [True]]))
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64),
                                        ori_shape=(64, 64)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 9, (1, 64, 64)))
        samples.append(s)
    set_modality_masks(samples, torch.ones(2, 2, dtype=torch.bool))
    losses = model.loss(torch.rand(2, 4, 64, 64), samples)
    assert not any(k.startswith('decode.') for k in losses)
    assert {'loss_ce_rgb', 'loss_ce_depth', 'loss_shared_rgb',
            'loss_shared_depth'} <= set(losses)
    assert losses['loss_duc'] > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.branches['depth'].conv1.weight.grad.abs().sum() > 0


def _tiny_dimml(folder, name, data_root):
    """configs/dimml/<name> on 4 synthetic images, batch 2."""
    import os.path as osp
    repo = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    small = dict(data_root=data_root, num_train=4, num_val=2, num_test=2)
    path = osp.join(folder, name)
    with open(path, 'w') as f:
        f.write(f'_base_ = [{osp.join(repo, "configs", "dimml", name)!r}]\n'
                f'small = {small!r}\n'
                'train_dataloader = dict(batch_size=2, dataset=small)\n'
                'val_dataloader = dict(batch_size=2, dataset=small)\n'
                'test_dataloader = val_dataloader\n'
                'default_hooks = dict(logger=dict(interval=1))\n')
    return path


def test_stage2_config_trains_from_the_stage1_checkpoint_key(tmp_path,
                                                             monkeypatch):
    """The shipped stage-2 config under mmengine's runner, its stage-1
    checkpoint given as compare_seeds' `--teacher-key model.stage1_ckpt`
    gives it: after the stage-2 iterations the encoders (BN statistics
    included) and unimodal heads are the stage-1 checkpoint's bit for bit,
    the fusion head has learnt, and the optimizer held the fusion head's
    parameters only."""
    import importlib.util
    import os
    import os.path as osp

    from mmengine.hooks import Hook
    repo = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    spec = importlib.util.spec_from_file_location(
        'compare_seeds', osp.join(repo, 'tools', 'analysis',
                                  'compare_seeds.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    # a stage-1 checkpoint as training writes it (weights after a step in
    # train mode: BN statistics moved; the layout in the meta)
    model = _model()
    model.train()
    samples = [DataSample().set_gt_label(i % 8) for i in range(4)]
    set_modality_masks(samples, torch.ones(4, 2, dtype=torch.bool))
    model.loss(torch.rand(4, 4, 32, 32) * 3, samples)
    stage1 = {k: v.clone() for k, v in model.state_dict().items()}
    path = str(tmp_path / 'iter_600.pth')
    torch.save(dict(state_dict=stage1, meta=dict(modality_layout=dict(
        names=['rgb', 'depth'], channels=[3, 1]))), path)
    two = _tiny_dimml(str(tmp_path), 'synthetic_cls_stage2_cpu.py',
                      str(tmp_path / 'data'))
    cfg, _ = tool._build_cfg(two, 0, {'model.stage1_ckpt': path},
                             str(tmp_path / 'work'), 'train')
    assert cfg.model.stage1_ckpt == path
    cfg.train_cfg.update(max_iters=2, val_interval=100)
    cfg.default_hooks.checkpoint.update(interval=2, save_best=None)

    class Snapshot(Hook):  # after init_weights (the stage-1 load)
        def before_train(self, runner):
            self.state = {k: v.clone()
                          for k, v in runner.model.state_dict().items()}

    snap = Snapshot()
    # the runner formats the config with yapf for its log, dump and
    # checkpoint meta (most of this test's time); plain reprs are as valid
    monkeypatch.setattr(Config, 'pretty_text', property(
        lambda self: '\n'.join(f'{k} = {v!r}'
                               for k, v in self.to_dict().items())))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        runner = tool.build_runner(cfg)
        runner.register_hook(snap)
        runner.train()
    finally:
        os.chdir(cwd)
    after = runner.model.state_dict()
    frozen = [k for k in stage1 if k.startswith(('backbone.', 'head.heads.'))]
    assert any('running_mean' in k for k in frozen)
    assert all(torch.equal(after[k], stage1[k]) for k in frozen)
    fusion = [k for k in after if k.startswith('head.fusion_head.')]
    assert sorted(fusion) == ['head.fusion_head.fc.bias',
                              'head.fusion_head.fc.weight']
    assert all(not torch.equal(after[k], snap.state[k]) for k in fusion)
    held = [id(p) for g in runner.optim_wrapper.optimizer.param_groups
            for p in g['params']]
    assert sorted(held) == sorted(
        id(p) for p in runner.model.head.fusion_head.parameters())


def _synthetic_batch(task):
    """Two full-modality samples of the synthetic sets' shape: (x, samples)
    with x (2, 4, S, S), S = 32 (cls) or 64 (seg)."""
    if task == 'cls':
        samples = [DataSample().set_gt_label(i % 8) for i in range(2)]
        size = 32
    else:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        samples = [SegDataSample(
            metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)),
            gt_sem_seg=PixelData(data=torch.randint(0, 9, (1, 64, 64))))
            for _ in range(2)]
        size = 64
    set_modality_masks(samples, torch.ones(2, 2, dtype=torch.bool))
    return torch.rand(2, 4, size, size), samples


@pytest.mark.parametrize('task', ['cls', 'seg'])
def test_joint_baseline_one_loss_and_single_modality_is_its_head(task):
    """configs/dimml/synthetic_<task>_joint_cpu.py: the stage-1
    architecture trained with ONE cross-entropy on the summed logits (both
    encoders learn from it); under `rgb` / `depth` the decision returns
    exactly that head's logits, so those columns are the unimodal heads'
    accuracy after joint training."""
    from mmengine.registry import MODELS
    cfg = Config.fromfile(f'configs/dimml/synthetic_{task}_joint_cpu.py')
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert len(model.method_losses) == 0 and not cfg.custom_hooks
    x, samples = _synthetic_batch(task)
    losses = model.loss(x, samples)
    key = 'loss' if task == 'cls' else 'decode.loss_ce'
    assert [k for k in losses if 'loss' in k] == [key]
    losses[key].backward()
    for name in ('rgb', 'depth'):  # one objective reaches both encoders
        assert model.backbone.branches[name].conv1.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        modal = model._modal_heads(model.backbone.encode(x))
        rgb, depth, both = model.logits_for_masks(
            x, [torch.tensor([[True, False]] * 2),
                torch.tensor([[False, True]] * 2), torch.ones(2, 2).bool()])
    assert torch.equal(rgb, modal['rgb']) and torch.equal(depth,
                                                          modal['depth'])
    torch.testing.assert_close(both, modal['rgb'] + modal['depth'])


@pytest.mark.parametrize('task', ['cls', 'seg'])
def test_stage2_configs_train_the_fusion_head_alone(task):
    """synthetic_<task>_stage2_cpu.py: the frozen modules stay in eval mode
    without gradients, the only loss is the fusion head's, and it reaches
    the fusion head alone; every combination predicts."""
    from mmengine.registry import MODELS
    cfg = Config.fromfile(f'configs/dimml/synthetic_{task}_stage2_cpu.py')
    assert cfg.model.stage1_ckpt == \
        f'work_dirs/dimml/synthetic_{task}_cpu/iter_600.pth'
    # seg: length chosen on the validation split (configs/dimml/README.md)
    assert cfg.train_cfg.max_iters == dict(cls=80, seg=600)[task]
    assert cfg.param_scheduler == []
    assert cfg.optim_wrapper.constructor == \
        'TrainableParamsOptimWrapperConstructor'
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # the checkpoint loads in init_weights
    model.train()
    head = model.task_head
    assert not model.backbone.training and not head.heads.training
    x, samples = _synthetic_batch(task)
    losses = model.loss(x, samples)
    assert list(losses) == ['loss_ce_fusion']
    losses['loss_ce_fusion'].backward()
    learnt = {n.split('.')[1] for n, p in model.named_parameters()
              if p.grad is not None}
    assert learnt == {'fusion_head'}
    model.eval()
    with torch.no_grad():
        out = model.predict_combinations(x, samples)
    assert sorted(out) == ['depth', 'rgb', 'rgb+depth']


def test_detached_losses_take_a_task_loss(tmp_path):
    """`loss=`: the per-modality terms use a task loss (here the NYUDv2
    configs' class-weighted CE, averaged over the weights of the labelled
    pixels) instead of the plain cross-entropy."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    layout = ModalityLayout(LAYOUT)
    mask = torch.tensor([[True, True], [False, True]])
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (2, 4, 4), generator=g)
    labels[0, 0] = 255
    samples = [SegDataSample(gt_sem_seg=PixelData(data=y[None]))
               for y in labels]
    logits = {n: torch.randn(2, 3, 4, 4, generator=g) for n in LAYOUT}
    rec = ForwardRecord(task='seg', layout=layout, mask=mask,
                        host_mask=mask, inputs=torch.zeros(2, 4, 4, 4),
                        data_samples=samples, modal_logits=logits)
    weight = torch.tensor([1.0, 2.0, 4.0])
    (tmp_path / 'w.json').write_text(str(weight.tolist()))
    loss = UnimodalTaskLoss(loss=dict(
        type='FileWeightedCrossEntropyLoss',
        class_weight_file=str(tmp_path / 'w.json')))
    out = loss(rec)
    for name, rows in (('rgb', [0]), ('depth', [0, 1])):
        y = labels[rows]
        nll = F.cross_entropy(logits[name][rows], y, weight=weight,
                              ignore_index=255, reduction='sum')
        ref = nll / weight[y[y != 255]].sum()
        assert out[f'loss_ce_{name}'].item() == pytest.approx(ref.item(),
                                                              rel=1e-5)
    plain = UnimodalTaskLoss()(rec)['loss_ce_rgb']
    assert plain.item() != pytest.approx(out['loss_ce_rgb'].item())
    with pytest.raises(ValueError, match="registered by both mmseg and "
                                         "mmpretrain: add _scope_"):
        UnimodalTaskLoss(loss=dict(type='CrossEntropyLoss'))
