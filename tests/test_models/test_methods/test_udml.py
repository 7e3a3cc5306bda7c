"""UDMLLoss: the estimator's MSE over present modalities, the KL to the
noise prior, the single-modality CE on the fused head under m alone, the
reliance EMA against a hand computation, missing levels as an error; the
synthetic seg and cls configs build and train a step."""
import math
import re
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmpretrain.registry import MODELS as CLS_MODELS
from mmpretrain.structures import DataSample
from mmseg.registry import MODELS as SEG_MODELS
from mmseg.structures import SegDataSample

from mm_incomplete.modality import set_modality_masks
from mm_incomplete.models.methods import UDMLLoss, gaussian_kl
from mm_incomplete.models.methods.udml_loss import (LOG_SIGMA2_MAX,
                                                    estimator_mse,
                                                    noise_levels)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 2, 2, 2, generator=g)
    logvar = torch.randn(3, 2, 2, 2, generator=g)
    var = torch.tensor([1.0, 4.0, 11.0])
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, (0.5 * logvar).exp()),
        torch.distributions.Normal(torch.zeros_like(mu),
                                   var.sqrt().view(-1, 1, 1, 1)))
    torch.testing.assert_close(gaussian_kl(mu, logvar, var),
                               ref.flatten(1).mean(1))


def _cls(config='configs/udml/synthetic_cls_cpu.py'):
    init_default_scope('mmpretrain')
    return CLS_MODELS.build(Config.fromfile(config).model)


def test_udml_loss_terms_against_hand_computation():
    torch.manual_seed(0)
    model = _cls()
    loss = model.method_losses['udml']
    mask = torch.tensor([[1, 1], [1, 0], [0, 1], [1, 1]]).bool()
    levels = [(3, 1), (5, 7), (2, 9), (11, 1)]
    samples = [DataSample(metainfo=dict(noise_level=dict(rgb=a, depth=d)))
               .set_gt_label(i) for i, (a, d) in enumerate(levels)]
    set_modality_masks(samples, mask)
    x = torch.rand(4, 4, 32, 32)
    bb = model.backbone
    reliance0 = bb.reliance.clone()
    # record once, evaluate the loss's pieces on the same record
    torch.manual_seed(1)
    record = model.forward_record(x, samples)
    stats = record.extras['udml']
    torch.manual_seed(2)
    out = loss(record)
    lv = torch.tensor(levels, dtype=torch.float)
    sq = [(float(stats.sigma[b, m]) - float(lv[b, m]))**2
          for b in range(4) for m in range(2) if mask[b, m]]
    assert out['loss_estimator'].item() == pytest.approx(
        0.1 * sum(sq) / len(sq), rel=1e-5)
    rows = {'rgb': [0, 1, 3], 'depth': [0, 2, 3]}
    for m, name in enumerate(('rgb', 'depth')):
        r = torch.tensor(rows[name])
        kl = gaussian_kl(stats.mu[name][r], stats.logvar[name][r],
                         lv[r, m]).mean()
        assert out[f'loss_kl_{name}'].item() == pytest.approx(
            1e-5 * kl.item(), rel=1e-4)
    # single-modality logits, recomputed under the same random state: the
    # fused head with only that modality kept
    torch.manual_seed(2)
    ref_rel = []
    for m, name in enumerate(('rgb', 'depth')):
        r = torch.tensor(rows[name])
        only = mask.clone()
        only[r] = False
        only[r, m] = True
        logits = record.logits_under(only)[r]
        ce = F.cross_entropy(logits, torch.arange(4)[r])
        assert out[f'loss_single_{name}'].item() == pytest.approx(
            4.0 * ce.item(), rel=1e-4)
        ref_rel.append(logits.abs().sum(1).mean().item())
    expect = 0.9 * reliance0 + 0.1 * torch.tensor(ref_rel)
    torch.testing.assert_close(bb.reliance, expect)
    assert out['reliance_rgb'].item() == pytest.approx(expect[0].item())


def test_estimator_mse_is_the_release_loss_below_the_bound():
    """(exp(o / 2) - l)^2 over present entries, value and gradient, for
    moderate and very negative o (float64 autograd of the direct
    formula)."""
    o = torch.tensor([[0.3, 2.0], [-5.0, 19.5], [-400.0, 4.0]],
                     requires_grad=True)
    levels = torch.tensor([[1.0, 3.0], [11.0, 2.0], [7.0, 5.0]])
    present = torch.tensor([[1, 1], [1, 1], [1, 0]]).bool()
    got = estimator_mse(o, levels, present)
    got.backward()
    o64 = o.detach().double().requires_grad_()
    sq = ((o64 / 2).exp() - levels.double()).pow(2)
    ref = sq[present].mean()
    ref.backward()
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(ref.item(), rel=1e-6)
    torch.testing.assert_close(o.grad.double(), o64.grad, rtol=1e-5,
                               atol=1e-12)
    assert o.grad[2, 1] == 0  # absent: no gradient


@pytest.mark.parametrize('big', [LOG_SIGMA2_MAX + 1, 200.0, 1e6, 1e9, 3e38])
def test_estimator_mse_bounds_o_from_above_and_keeps_a_pulling_gradient(big):
    """Above LOG_SIGMA2_MAX the value is that of the bound (finite, where
    float32's exp(o / 2) overflows for o > ~177) and the gradient that of
    the bound, positive (pushes o down); an absent entry's huge o costs
    nothing and gets no gradient."""
    o = torch.tensor([[big, 1.0], [0.0, big]], requires_grad=True)
    levels = torch.tensor([[3.0, 2.0], [1.0, 5.0]])
    present = torch.tensor([[1, 1], [1, 0]]).bool()
    got = estimator_mse(o, levels, present)
    got.backward()
    top = math.exp(LOG_SIGMA2_MAX / 2)
    sq = [(top - 3.0)**2, (math.exp(0.5) - 2.0)**2, 0.0]
    assert torch.isfinite(got) and torch.isfinite(o.grad).all()
    assert got.item() == pytest.approx(sum(sq) / 3, rel=1e-5)
    # d/do (sigma - l)^2 / 3 = (sigma - l) sigma / 3, sigma at the bound
    assert o.grad[0, 0].item() == pytest.approx((top - 3.0) * top / 3,
                                                rel=1e-5)
    assert o.grad[1, 1] == 0
    # and a loss on a huge level would push o the wrong way: refused
    samples = [DataSample(metainfo=dict(noise_level=dict(rgb=1,
                                                         depth=top)))]
    with pytest.raises(ValueError, match=r"sample 0 .*'depth'\] = "):
        noise_levels(samples, ('rgb', 'depth'), 'cpu')


def test_udml_loss_finite_for_an_exploding_estimator():
    """The estimator forced to o = 300 (sigma = inf in float32): the
    training step's losses and every gradient stay finite."""
    torch.manual_seed(0)
    model = _cls()
    model.backbone.set_weights_active(True)
    with torch.no_grad():
        for est in model.backbone.estimators.values():
            est.net[-1].weight.zero_()
            est.net[-1].bias.fill_(300.0)
    samples = [DataSample(metainfo=dict(noise_level=dict(rgb=3, depth=1)))
               .set_gt_label(i) for i in range(3)]
    set_modality_masks(samples, torch.tensor([[1, 1], [1, 0], [0, 1]]).bool())
    losses = model.loss(torch.rand(3, 4, 32, 32), samples)
    assert all(torch.isfinite(v).all() for v in losses.values()), losses
    _total(losses).backward()
    bad = [n for n, p in model.named_parameters()
           if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert bad == []
    bias = model.backbone.estimators['rgb'].net[-1].bias
    assert bias.grad.item() > 0  # gradient descent lowers o


def test_noise_levels_refuses_levels_outside_the_range():
    for bad in (0, -1.0, float('nan'), float('inf')):
        samples = [DataSample(metainfo=dict(noise_level=dict(rgb=1,
                                                             depth=2))),
                   DataSample(metainfo=dict(noise_level=dict(rgb=bad,
                                                             depth=2)))]
        with pytest.raises(ValueError,
                           match=rf"sample 1 has noise_level\['rgb'\] = "
                           rf"{re.escape(repr(float(bad)))}"):
            noise_levels(samples, ('rgb', 'depth'), 'cpu')
    ok = noise_levels(samples[:1], ('rgb', 'depth'), 'cpu')
    assert ok.tolist() == [[1.0, 2.0]]


def test_udml_loss_needs_noise_levels():
    model = _cls()
    samples = [DataSample().set_gt_label(0) for _ in range(2)]
    set_modality_masks(samples, torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(KeyError, match='noise_level.*MultiModalNoise'):
        model.loss(torch.rand(2, 4, 32, 32), samples)
    with pytest.raises(ValueError, match='momentum'):
        UDMLLoss(momentum=1.0)


def _total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def test_cls_config_trains_a_step():
    torch.manual_seed(0)
    model = _cls()
    samples = [DataSample(metainfo=dict(noise_level=dict(rgb=1, depth=4)))
               .set_gt_label(i) for i in range(4)]
    set_modality_masks(samples, torch.tensor([[1, 1], [1, 0], [0, 1],
                                              [1, 1]]).bool())
    losses = model.loss(torch.rand(4, 4, 32, 32), samples)
    assert {'loss', 'loss_estimator', 'loss_single_rgb', 'loss_single_depth',
            'loss_kl_rgb', 'loss_kl_depth'} <= set(losses)
    _total(losses).backward()
    for name in ('rgb', 'depth'):
        assert model.backbone.backbone.branches[name].conv1.weight.grad \
            .abs().sum() > 0


def test_seg_config_trains_a_step():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = SEG_MODELS.build(
        Config.fromfile('configs/udml/synthetic_seg_cpu.py').model)
    model.backbone.set_weights_active(True)
    samples = []
    for i in range(3):
        s = SegDataSample(metainfo=dict(
            img_shape=(64, 64), ori_shape=(64, 64),
            noise_level=dict(rgb=1 + 5 * i, depth=2)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 9, (1, 64, 64)))
        samples.append(s)
    set_modality_masks(samples, torch.tensor([[1, 1], [1, 0], [0, 1]]).bool())
    losses = model.loss(torch.rand(3, 4, 64, 64), samples)
    assert {'decode.loss_ce', 'loss_estimator', 'loss_single_rgb',
            'loss_single_depth'} <= set(losses)
    _total(losses).backward()
    assert model.backbone.backbone.branches['depth'].conv1.weight.grad \
        .abs().sum() > 0
    assert torch.all(model.backbone.reliance != 1)  # both updated


def test_nyud_config_builds_the_paper_setting():
    cfg = Config.fromfile('configs/udml/nyud_rgbd.py')
    bb = cfg.model.backbone
    assert bb.type == 'UDMLBackbone' and bb.backbone.depth == 50
    assert bb.backbone.type == 'MultiBranchResNet' and \
        bb.backbone.feedback is None
    assert cfg.model.data_preprocessor.train_sampler.type == 'ModDrop'
    assert cfg.optim_wrapper.clip_grad.max_norm == 40
    hook = cfg.custom_hooks[0]
    assert (hook.noise_begin, hook.weights_begin) == (15000, 18000)
    assert cfg.train_cfg.max_iters == 30000
    names = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert names.index('MultiModalNoiseInjection') < \
        names.index('MultiModalPad')
    init_default_scope('mmseg')
    # built alone: the layout the task model would hand the inner backbone
    small = dict(bb, backbone=dict(
        bb.backbone, depth=18, base_channels=8, norm_cfg=dict(type='BN'),
        init_cfg=None, modalities=cfg.model.data_preprocessor.modalities))
    model = SimpleNamespace(backbone=SEG_MODELS.build(small))
    assert model.backbone.embeddings['rgb'].in_channels == 64


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_udml_training_step_reads_nothing_from_the_device(task):
    from _sync_guard import HostSyncGuard
    from _tiny import LAYOUT, cls_model, seg_model
    pre = dict(modalities=LAYOUT, mean=dict(rgb=[120.] * 3, depth=[3.]),
               std=dict(rgb=[60.] * 3, depth=[1.]),
               train_sampler=dict(type='ModDrop', drop_prob=0.5, seed=0))
    torch.manual_seed(0)
    inner = dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                 base_channels=8)
    levels = [dict(noise_level=dict(rgb=1 + i, depth=11 - i))
              for i in range(6)]
    methods = dict(udml=dict(type='UDMLLoss'))
    if task == 'seg':
        model = seg_model(
            backbone=dict(type='UDMLBackbone', backbone=inner, hidden=8),
            method_losses=methods, data_preprocessor=dict(
                pre, type='MultiModalSegDataPreProcessor', size=(32, 32)))
        samples = [SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(4, (1, 32, 32))), metainfo=dict(
                img_shape=(32, 32), ori_shape=(32, 32), **lv))
            for lv in levels]
    else:
        model = cls_model(
            backbone=dict(type='UDMLBackbone', hidden=8,
                          backbone=dict(inner, out_indices=(3, ))),
            method_losses=methods, data_preprocessor=pre)
        samples = [DataSample(metainfo=lv).set_gt_label(i % 4)
                   for i, lv in enumerate(levels)]
    batch = dict(inputs=[torch.rand(4, 32, 32) * 255 for _ in range(6)],
                 data_samples=samples)
    model.train()
    model.backbone.set_weights_active(True)

    def step():
        data = model.data_preprocessor(batch, True)
        losses = model.loss(data['inputs'], data['data_samples'])
        _total(losses).backward()
        return losses

    step()
    with HostSyncGuard(model) as guard:
        losses = step()
    assert guard.ours == [], '\n'.join(guard.ours)
    assert 'loss_estimator' in losses
