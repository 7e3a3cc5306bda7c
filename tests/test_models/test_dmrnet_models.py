"""DMRNet as plug-ins on the task models (ProbabilisticEmbeddingNeck,
CombinationRegularizer, ProbabilisticEmbeddingKL): the embedding in the
forward paths, the three loss terms, mining, checkpoints, shipped configs.
(Equality with the pre-plug-in formulation:
test_methods/test_dmrnet.py.)"""
import pytest
import torch
from mmengine.structures import PixelData
from mmpretrain.registry import MODELS as CLS_MODELS
from mmpretrain.structures import DataSample
from mmseg.registry import MODELS as SEG_MODELS
from mmseg.structures import SegDataSample

import mm_incomplete  # noqa: F401
from mm_incomplete.modality import set_modality_masks

LAYOUT = dict(rgb=3, depth=1)
MASK = torch.tensor([[1, 1], [0, 1], [1, 0], [0, 1]]).bool()


def _seg_cfg(combinations=('depth', )):
    fcn = dict(type='FCNHead', in_channels=64, in_index=3, channels=16,
               num_convs=1, num_classes=4, dropout_ratio=0)
    return dict(
        type='MultiModalEncoderDecoder',
        _scope_='mmseg',
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=8),
        neck=dict(type='ProbabilisticEmbeddingNeck',
                  in_channels=[8, 16, 32, 64], in_index=-1),
        decode_head=fcn,
        method_losses=dict(
            hard_combination=dict(
                type='CombinationRegularizer', modalities=LAYOUT,
                combinations=None if combinations is None else
                list(combinations), mining_score='embedding_variance',
                head=dict(fcn, loss_decode=dict(type='CrossEntropyLoss',
                                                loss_weight=0.5))),
            kl=dict(type='ProbabilisticEmbeddingKL', loss_weight=1e-3)),
        test_cfg=dict(mode='whole'))


def _seg_batch(mask=MASK, size=64):
    g = torch.Generator().manual_seed(0)
    samples = [
        SegDataSample(
            gt_sem_seg=PixelData(data=torch.randint(
                4, (1, size, size), generator=g)),
            metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
        for _ in range(len(mask))
    ]
    set_modality_masks(samples, mask)
    return torch.rand(len(mask), 4, size, size, generator=g), samples


def test_seg_losses_and_weights():
    torch.manual_seed(0)
    model = SEG_MODELS.build(_seg_cfg())
    inputs, samples = _seg_batch()
    losses = model.loss(inputs, samples)
    assert {'decode.loss_ce', 'aux.loss_ce', 'loss_kl'} <= set(losses)
    assert losses['aux.loss_ce'] > 0 and losses['loss_kl'] > 0
    # the KL term is 1e-3 x the mean KL of the embedded (deepest) level
    x = model.backbone(inputs, MASK)
    emb = model.neck.embeddings[0]
    mu, logvar = emb.mu_head(x[3]), emb.logvar_head(x[3])
    kl = 0.5 * (logvar.exp() + mu ** 2 - logvar - 1).sum(1).mean()
    torch.testing.assert_close(losses['loss_kl'], 1e-3 * kl)
    # no hard sample: the auxiliary decoder does not count
    inputs, samples = _seg_batch(MASK[[0, 2]])
    assert model.loss(inputs, samples)['aux.loss_ce'].item() == 0.0


def test_seg_samples_only_in_training_and_predicts_every_combination():
    torch.manual_seed(0)
    model = SEG_MODELS.build(_seg_cfg())
    inputs, samples = _seg_batch()
    model.train()
    a, b = model._forward(inputs, samples), model._forward(inputs, samples)
    assert not torch.allclose(a, b)
    model.eval()
    with torch.no_grad():
        a, b = model._forward(inputs, samples), model._forward(inputs,
                                                               samples)
        out = model.predict_combinations(inputs, samples, 'all')
        single = model.predict(inputs, [s.clone() for s in samples])
    torch.testing.assert_close(a, b)
    assert sorted(out) == ['depth', 'rgb', 'rgb+depth']
    # the every-combination path equals the single-combination one
    for i, row in enumerate(MASK.tolist()):
        name = {(1, 1): 'rgb+depth', (0, 1): 'depth',
                (1, 0): 'rgb'}[tuple(int(v) for v in row)]
        torch.testing.assert_close(out[name][i].seg_logits.data,
                                   single[i].seg_logits.data)


def test_seg_mining_feeds_the_selector_and_survives_state_dict():
    torch.manual_seed(0)
    model = SEG_MODELS.build(_seg_cfg(combinations=None))
    sel = model.method_losses.hard_combination.selector
    inputs, samples = _seg_batch()
    assert model.loss(inputs, samples)['aux.loss_ce'].item() == 0.0
    model.loss(inputs, samples)
    assert sel.score_count.sum() == 0  # not mining: nothing gathered
    sel.mining = True
    model.loss(inputs, samples)
    assert sel.score_count.tolist() == [1.0, 1.0, 2.0]  # full, rgb, depth
    sel.mining = False
    chosen = sel.finish_mining()
    assert len(chosen) == 1 and chosen[0] in ('rgb', 'depth')
    fresh = SEG_MODELS.build(_seg_cfg(combinations=None))
    fresh.load_state_dict(model.state_dict())
    assert fresh.method_losses.hard_combination.selector.selected_names == \
        chosen


def test_seg_kl_needs_the_probabilistic_neck():
    cfg = _seg_cfg()
    cfg['neck'] = None
    model = SEG_MODELS.build(cfg)
    inputs, samples = _seg_batch()
    with pytest.raises(KeyError, match='ProbabilisticEmbeddingNeck'):
        model.loss(inputs, samples)


def _cls_cfg():
    return dict(
        type='MultiModalImageClassifier',
        _scope_='mmpretrain',  # whatever scope an earlier test left current
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=8, out_indices=(3, )),
        neck=dict(type='SequentialNeck', necks=[
            dict(type='GlobalAveragePooling'),
            dict(type='ProbabilisticEmbeddingNeck', in_channels=[64])]),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=64),
        method_losses=dict(
            hard_combination=dict(
                type='CombinationRegularizer', modalities=LAYOUT,
                combinations=None, mining_score='embedding_variance',
                head=dict(type='LinearClsHead', num_classes=5,
                          in_channels=64,
                          loss=dict(type='CrossEntropyLoss',
                                    loss_weight=0.3))),
            kl=dict(type='ProbabilisticEmbeddingKL', loss_weight=1e-3)),
        data_preprocessor=dict(modalities=LAYOUT))


def test_cls_losses_sampling_mining_and_prediction():
    torch.manual_seed(0)
    model = CLS_MODELS.build(_cls_cfg())
    inputs = torch.rand(4, 4, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in range(4)]
    set_modality_masks(samples, MASK)
    sel = model.method_losses.hard_combination.selector
    sel.mining = True
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss', 'aux.loss', 'loss_kl'}
    assert losses['aux.loss'].item() == 0.0  # nothing selected before mining
    assert sel.score_count.tolist() == [1.0, 1.0, 2.0]
    sel.mining = False
    sel.finish_mining()
    assert model.loss(inputs, samples)['aux.loss'].item() > 0

    feats_a = model.extract_feat(inputs, mask=MASK)[-1]
    feats_b = model.extract_feat(inputs, mask=MASK)[-1]
    assert not torch.allclose(feats_a, feats_b)  # z is sampled in training
    model.eval()
    with torch.no_grad():
        out = model.predict_combinations(inputs, samples, 'all')
        single = model.predict(inputs, [s.clone() for s in samples])
    torch.testing.assert_close(out['depth'][1].pred_score,
                               single[1].pred_score)
    torch.testing.assert_close(out['rgb'][2].pred_score,
                               single[2].pred_score)


@pytest.mark.parametrize('name', ['synthetic_seg_cpu', 'synthetic_cls_cpu',
                                  'nyud_rgbd', 'sunrgbd_rgbd'])
def test_shipped_configs(name):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mm_incomplete.utils import config_path
    cfg = Config.fromfile(config_path(f'dmrnet/{name}.py'))
    hooks = {h['type']: h for h in cfg.custom_hooks}
    warmup = hooks['LossScaleWarmupHook']
    if name.startswith('synthetic'):
        assert hooks['CombinationMiningHook']['end'] == warmup['begin'] == 100
        init_default_scope(cfg.default_scope)
        registry = SEG_MODELS if 'seg' in name else CLS_MODELS
        model = registry.build(cfg.model)
        assert type(model).__name__.startswith('MultiModal')
        assert model.method_losses.kl.loss_weight == 1e-3
        hard = model.method_losses.hard_combination
        assert hard.selector.fixed is False and hard.mining_score is not None
    else:  # the papers' setting: depth is hard, regularizers from epoch 11
        hard = cfg.model.method_losses.hard_combination
        assert hard.combinations == ['depth']
        assert hard.head.loss_decode.loss_weight == 0.5
        assert cfg.model.decode_head.num_classes == hard.head.num_classes
        assert warmup['modules'] == ['method_losses']
        iters_per_epoch = 100 if name == 'nyud_rgbd' else 660
        assert warmup['begin'] == 11 * iters_per_epoch
        assert cfg.train_cfg.max_iters == 300 * iters_per_epoch
