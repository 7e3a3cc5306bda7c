"""DMRNet as plug-ins (ProbabilisticEmbeddingNeck + ProbabilisticEmbeddingKL
+ CombinationRegularizer) computes what the pre-plug-in DMRNet models
computed: the same loss dict, value for value, on the same batch and seed;
the same mining statistic; and the deprecated model classes build it."""
import warnings

import pytest
import torch
from mmpretrain.registry import MODELS as CLS_MODELS
from mmseg.registry import MODELS as SEG_MODELS
from mmseg.utils import add_prefix

from _tiny import (LAYOUT, MASK, STAGES, cls_batch, cls_model, fcn, linear,
                   seg_batch, seg_model)
from mm_incomplete.models.losses import GaussianKLLoss


def _dmrnet_seg(combinations=('depth', )):
    return seg_model(
        neck=dict(type='ProbabilisticEmbeddingNeck', in_channels=STAGES,
                  in_index=-1),
        decode_head=fcn(dropout_ratio=0.1),
        method_losses=dict(
            hard_combination=dict(
                type='CombinationRegularizer', modalities=LAYOUT,
                combinations=None if combinations is None else
                list(combinations), mining_score='embedding_variance',
                head=fcn(loss_weight=0.5, dropout_ratio=0.1)),
            kl=dict(type='ProbabilisticEmbeddingKL', loss_weight=1e-3)))


def _dmrnet_cls(combinations=('depth', )):
    return cls_model(
        neck=dict(type='SequentialNeck', necks=[
            dict(type='GlobalAveragePooling'),
            dict(type='ProbabilisticEmbeddingNeck', in_channels=[64])]),
        method_losses=dict(
            hard_combination=dict(
                type='CombinationRegularizer', modalities=LAYOUT,
                combinations=None if combinations is None else
                list(combinations), mining_score='embedding_variance',
                head=linear(loss_weight=0.3)),
            kl=dict(type='ProbabilisticEmbeddingKL', loss_weight=1e-3)))


def _old_subset(selector, feats, samples, mask, loss_fn, scale):
    """The pre-plug-in regularizer (CombinationRegularizer*Head at
    main@1108ae9): select on the stacked device mask, sub-batch, scale."""
    keep = selector.sample_mask(mask.clone()).nonzero().flatten()
    if keep.numel() == 0:
        return {}
    if keep.numel() == 1:
        keep = keep.repeat(2)
    elif keep.numel() == len(samples):
        keep = None
    if keep is not None:
        feats = [f[keep] for f in feats]
        samples = [samples[i] for i in keep.tolist()]
    return {k: v * scale if 'loss' in k else v
            for k, v in loss_fn(feats, samples).items()}


def _old_seg_losses(model, inputs, samples, mask):
    """DMRNetEncoderDecoder.loss at main@1108ae9, from the components."""
    reg = model.method_losses.hard_combination
    kl = GaussianKLLoss(loss_weight=1e-3)
    kl.loss_scale = model.method_losses.kl.loss_scale
    x, stats = model.neck.forward_with_stats(model.backbone(inputs, mask))
    losses = add_prefix(model.decode_head.loss(x, samples, model.train_cfg),
                        'decode')
    losses.update(add_prefix(_old_subset(
        reg.selector, list(x), samples, mask,
        lambda f, s: reg.head.loss(f, s, model.train_cfg), reg.loss_scale),
        'aux'))
    losses['loss_kl'] = sum(kl(s.mu, s.logvar) for s in stats)
    score = torch.stack([s.logvar.detach().exp().flatten(1).mean(1)
                         for s in stats]).mean(0)
    return losses, score


def _old_cls_losses(model, inputs, samples, mask):
    """DMRNetImageClassifier.loss at main@1108ae9, from the components."""
    reg = model.method_losses.hard_combination
    gap, pen = model.neck.necks
    kl = GaussianKLLoss(loss_weight=1e-3)
    x = gap(model.backbone(inputs, mask))
    out = pen.embeddings[0](x[-1])
    feats = tuple(x[:-1]) + (out.z, )
    losses = model.head.loss(feats, samples)
    losses.update({f'aux.{k}': v for k, v in _old_subset(
        reg.selector, list(feats), samples, mask,
        lambda f, s: reg.head.loss(tuple(f), s), reg.loss_scale).items()})
    losses['loss_kl'] = kl(out.mu, out.logvar)
    return losses, out.logvar.detach().exp().flatten(1).mean(1)


@pytest.mark.parametrize('task', ['seg', 'cls'])
@pytest.mark.parametrize('mask', [MASK, MASK[[0, 1]], MASK[[1, 3]]],
                         ids=['mixed', 'one-hard', 'all-hard'])
def test_loss_dict_equals_the_old_formulation(task, mask):
    build, batch, old = (_dmrnet_seg, seg_batch, _old_seg_losses) \
        if task == 'seg' else (_dmrnet_cls, cls_batch, _old_cls_losses)
    torch.manual_seed(0)
    model = build()
    inputs, samples = batch(mask)
    for seed in (1, 2):
        torch.manual_seed(seed)
        new = model.loss(inputs, samples)
        torch.manual_seed(seed)
        ref, _ = old(model, inputs, samples, mask)
        assert sorted(new) == sorted(ref)
        for key in ref:
            torch.testing.assert_close(new[key], ref[key], rtol=0, atol=0,
                                       msg=f'{task} {key}')
    assert float(new['aux.loss_ce' if task == 'seg' else 'aux.loss']) > 0


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_mining_statistic_equals_the_old_one(task):
    build, batch, old = (_dmrnet_seg, seg_batch, _old_seg_losses) \
        if task == 'seg' else (_dmrnet_cls, cls_batch, _old_cls_losses)
    torch.manual_seed(0)
    model = build(combinations=None)
    sel = model.method_losses.hard_combination.selector
    inputs, samples = batch()
    sel.mining = True
    torch.manual_seed(3)
    model.loss(inputs, samples)
    torch.manual_seed(3)
    _, score = old(model, inputs, samples, MASK)
    sums = torch.zeros(3, dtype=torch.float64).index_add_(
        0, sel.combination_index(MASK), score.double())
    torch.testing.assert_close(sel.score_sum, sums, rtol=0, atol=0)
    assert sel.score_count.tolist() == [1.0, 1.0, 2.0]  # full, rgb, depth
    sel.mining = False
    assert sel.finish_mining() in (['rgb'], ['depth'])


def test_loss_scale_zero_skips_the_head_and_keeps_the_graph():
    model = _dmrnet_seg()
    for m in model.method_losses.values():
        m.loss_scale = 0.0
    inputs, samples = seg_batch()
    losses = model.loss(inputs, samples)
    assert float(losses['aux.loss_ce']) == 0 and float(losses['loss_kl']) == 0
    assert 'aux.acc_seg' not in losses
    losses['aux.loss_ce'].backward()  # reaches the head's parameters
    reg = model.method_losses.hard_combination
    assert all(p.grad is not None for p in reg.head.parameters())


def test_deprecated_classes_build_the_plug_in_form():
    from _tiny import fcn as _fcn
    cfg = dict(
        type='DMRNetEncoderDecoder', _scope_='mmseg',
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=8),
        neck=dict(type='ProbabilisticEmbeddingNeck', in_channels=STAGES),
        decode_head=_fcn(),
        auxiliary_head=dict(type='CombinationRegularizerSegHead',
                            modalities=LAYOUT, combinations=['depth'],
                            head=_fcn(loss_weight=0.5)),
        kl_loss=dict(type='GaussianKLLoss', loss_weight=2e-3))
    with pytest.warns(DeprecationWarning, match='DMRNetEncoderDecoder is '
                                                'deprecated'):
        model = SEG_MODELS.build(cfg)
    assert list(model.method_losses) == ['hard_combination', 'kl']
    assert model.method_losses.kl.loss_weight == 2e-3
    assert model.method_losses.hard_combination.selector.selected_names == \
        ['depth']
    assert not model.with_auxiliary_head
    inputs, samples = seg_batch()
    assert {'aux.loss_ce', 'loss_kl', 'decode.loss_ce'} <= set(
        model.loss(inputs, samples))
    with pytest.raises(TypeError, match='ProbabilisticEmbeddingNeck'):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            SEG_MODELS.build(dict(cfg, neck=None))
    cls_cfg = dict(
        type='DMRNetImageClassifier', _scope_='mmpretrain',
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=8, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        probabilistic_embedding=dict(type='ProbabilisticEmbedding',
                                     in_channels=64),
        head=linear(),
        aux_head=dict(type='CombinationRegularizerClsHead',
                      modalities=LAYOUT, combinations=None,
                      head=linear(loss_weight=0.3)),
        data_preprocessor=dict(modalities=LAYOUT))
    with pytest.warns(DeprecationWarning, match='DMRNetImageClassifier'):
        model = CLS_MODELS.build(cls_cfg)
    assert [type(n).__name__ for n in model.neck.necks] == [
        'GlobalAveragePooling', 'ProbabilisticEmbeddingNeck']
    inputs, samples = cls_batch()
    assert set(model.loss(inputs, samples)) == {'loss', 'aux.loss',
                                                'loss_kl'}
