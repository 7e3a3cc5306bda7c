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
