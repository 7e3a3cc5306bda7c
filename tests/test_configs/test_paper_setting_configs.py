"""The papers' NYUDv2 / SUN RGB-D configs: ESANet's decoder, ImageNet
initialisation, class-weighted multi-scale loss, ESANet's augmentation,
MMANet's MAD levels and MAR decoder, DMRNet's embedding after the context
module."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

import mm_incomplete  # noqa: F401  registers the modules
from mm_incomplete.utils import config_path

SEG = ['baselines/early_fusion_nyud_rgbd.py',
       'baselines/multi_branch_full_nyud_rgbd.py',
       'baselines/multi_branch_moddrop_nyud_rgbd.py',
       'dmrnet/nyud_rgbd.py', 'dmrnet/sunrgbd_rgbd.py',
       'mmanet/nyud_rgbd_teacher.py']
ALL = SEG + ['mmanet/nyud_rgbd.py']


def models_of(cfg):
    m = cfg.model
    return [m.student, m.teacher] if m.type == 'SegDistiller' else [m]


@pytest.mark.parametrize('name', ALL)
def test_paper_augmentation_pretraining_and_loss(name):
    cfg = Config.fromfile(config_path(name))
    steps = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert steps == ['LoadMultiModalImages', 'LoadMultiModalAnnotations',
                     'MultiModalRandomResize', 'MultiModalRandomCrop',
                     'RGBRandomHSV', 'MultiModalRandomFlip', 'MultiModalPad',
                     'PackMultiModalSegInputs']
    resize = cfg.train_dataloader.dataset.pipeline[2]
    assert resize.ratio_range == (1.0, 1.4)
    assert cfg.train_dataloader.dataset.pipeline[3].get(
        'cat_max_ratio', 1.0) == 1.0
    dataset = 'sunrgbd' if 'sunrgbd' in name else 'nyudv2'
    for model in models_of(cfg):
        assert model.backbone.init_cfg == dict(
            type='PretrainedBranches', checkpoint='torchvision://resnet50')
        assert model.neck.type in ('ESANetContextNeck', 'SequentialNeck')
        head = model.decode_head
        assert head.type == 'ESANetHead'
        assert head.decoder_channels == (512, 256, 128)
        assert head.side_loss_weights == (1.0, 1.0, 1.0)
        loss = head.loss_decode
        assert loss.type == 'FileWeightedCrossEntropyLoss'
        assert loss.avg_non_ignore and loss.loss_weight == 1.0
        assert loss.class_weight_file.startswith(f'data/{dataset}/')


def test_dmrnet_embedding_after_context_and_second_decoder():
    cfg = Config.fromfile(config_path('dmrnet/nyud_rgbd.py'))
    necks = cfg.model.neck.necks
    assert [n.type for n in necks] == ['ESANetContextNeck',
                                       'ProbabilisticEmbeddingNeck']
    assert necks[0].context_channels == 512 and necks[1].in_index == -1
    hard = cfg.model.method_losses.hard_combination
    assert hard.inputs == 'neck_feats'  # the embedded context + skips
    aux = hard.head
    assert aux.type == 'ESANetHead' and aux.loss_decode.loss_weight == 0.5
    assert aux.loss_decode.type == 'FileWeightedCrossEntropyLoss'
    assert cfg.model.method_losses.kl.loss_weight == 1e-3


def test_mmanet_mad_levels_and_mar_decoder():
    cfg = Config.fromfile(config_path('mmanet/nyud_rgbd.py'))
    m = cfg.model
    assert m.student_recorders.context == dict(path='neck', index=3)
    assert m.student_recorders.skip16 == dict(path='neck', index=2)
    assert m.student_recorders.skip8 == dict(path='neck', index=1)
    assert m.teacher_recorders.context == dict(path='neck', index=3)
    assert m.teacher_recorders.logits == 'decode_head.conv_seg'
    assert m.method_losses.mar.inputs == 'neck_feats'
    mar = m.method_losses.mar.head
    assert mar.type == 'ESANetHead' and mar.loss_decode.loss_weight == 0.2
    assert mar.in_channels == [128, 256, 512, 512]


def test_uper_option_builds_without_neck():
    cfg = Config.fromfile(
        config_path('baselines/multi_branch_moddrop_nyud_rgbd_uper.py'))
    assert cfg.model.neck is None
    assert cfg.model.decode_head.type == 'UPerHead'
    assert cfg.model.decode_head.loss_decode.type == \
        'FileWeightedCrossEntropyLoss'
    assert cfg.model.backbone.init_cfg.type == 'PretrainedBranches'


def test_paper_model_output_and_neck_shapes():
    """The full paper network (two ResNet-50, ESANet decoder) at 64 x 64."""
    cfg = Config.fromfile(config_path('dmrnet/nyud_rgbd.py'))
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model).eval()
    x = torch.rand(1, 4, 64, 64)
    with torch.no_grad():
        feats = model.extract_feat(x)
        logits = model.decode_head(feats)
    assert [tuple(f.shape[1:]) for f in feats] == \
        [(128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 2, 2)]
    assert logits.shape == (1, 40, 64, 64)


@pytest.mark.parametrize('name', ['dimml/nyud_rgbd.py',
                                  'dimml/sunrgbd_scene.py'])
def test_dimml_paper_configs_build_and_train_a_step(name, tmp_path):
    """DI-MML's RGB-D configs: detached per-modality heads, the shared head
    and DUC on the last stage's channels (a step with a split set), in the
    setting of the other configs of the dataset."""
    from mmengine.structures import PixelData
    from mmpretrain.structures import DataSample
    from mmseg.structures import SegDataSample

    from mm_incomplete.modality import set_modality_masks
    cfg = Config.fromfile(config_path(name))
    seg = cfg.default_scope == 'mmseg'
    if seg:  # the NYUDv2 setting of the other methods
        assert cfg.model.backbone.init_cfg == dict(
            type='PretrainedBranches', checkpoint='torchvision://resnet50')
        assert cfg.train_cfg.max_iters == 30000 and cfg.model.neck is None
        assert cfg.custom_hooks == [dict(type='DUCSplitHook', begin=4000)]
        head = cfg.model.decode_head
        assert head.head.loss_decode.type == 'FileWeightedCrossEntropyLoss'
    else:  # the release's: ResNet-18s, SGD 1e-3, 150 epochs, DUC at 20
        assert cfg.model.backbone.depth == 18
        assert cfg.train_cfg == dict(type='EpochBasedTrainLoop',
                                     max_epochs=150, val_interval=10)
        assert cfg.optim_wrapper.optimizer.lr == 1e-3
        assert cfg.custom_hooks == [dict(type='DUCSplitHook', begin=20,
                                         by_epoch=True)]
        # val reads the test list: nothing is selected on it
        assert cfg.val_dataloader.dataset.ann_file == 'scene_test.txt'
        assert cfg.default_hooks.checkpoint.save_best is None
        head = cfg.model.head
    assert head.type == 'LateFusionHead' and not head.fused_loss
    assert head.decision == dict(type='CertaintyWeightedDecision',
                                 temperature=1.0)
    if seg:  # 512-channel UPerHeads x 3 cost a minute on a CPU: the same
        # wiring with 32 channels (in_channels, feat_dim: the config's)
        cfg.model.decode_head.head.channels = 32
        cfg.model.method_losses.shared.head.channels = 32
        # the detached losses are the class-weighted CE of the other
        # NYUDv2 configs, here with weights from a file of this test
        weights = tmp_path / 'w.json'
        weights.write_text(str([1.0 + i / 40 for i in range(40)]))
        for term in ('unimodal', 'shared'):
            loss = cfg.model.method_losses[term].loss
            assert loss == head.head.loss_decode
            loss.class_weight_file = str(weights)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model) if seg else \
            __import__('mmpretrain.registry').registry.MODELS.build(
                cfg.model)
    duc = model.method_losses['duc']
    dims = cfg.feat_dim
    duc.set_split(torch.stack([torch.arange(dims) % 3 == 0,
                               torch.arange(dims) % 3 == 1]))
    if seg:
        samples = [SegDataSample(
            metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)),
            gt_sem_seg=PixelData(data=torch.randint(0, 40, (1, 64, 64))))
            for _ in range(2)]
    else:
        samples = [DataSample().set_gt_label(i) for i in range(2)]
    set_modality_masks(samples, torch.ones(2, 2, dtype=torch.bool))
    losses = model.loss(torch.rand(2, 4, 64, 64), samples)
    assert set(losses) == {'loss_ce_rgb', 'loss_ce_depth', 'loss_shared_rgb',
                           'loss_shared_depth', 'loss_duc'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_duc'] > 0
