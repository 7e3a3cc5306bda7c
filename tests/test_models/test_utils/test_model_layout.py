"""The layout is declared once (the data preprocessor's) and reaches every
part of a task model or a distiller; a part that names another is an error
naming both places and both values."""
import re

import pytest
import torch
from mmpretrain.registry import MODELS as CLS_MODELS
from mmseg.registry import MODELS as SEG_MODELS
from mmseg.structures import SegDataSample

import mm_incomplete  # noqa: F401
from mm_incomplete.modality import ModalityLayout
from mm_incomplete.models.utils.model_layout import fill_model_layout

# not the backbones' old default (rgb + depth): a filled layout is visible
RGB_IR = 'rgb:3,ir:1:other'
LAYOUT = ModalityLayout(RGB_IR)


def fcn(**kw):
    return dict(type='FCNHead', in_channels=64, in_index=3, channels=8,
                num_convs=1, num_classes=3, **kw)


def linear():
    return dict(type='LinearClsHead', num_classes=3, in_channels=64)


def seg_cfg(**kw):
    cfg = dict(
        type='MultiModalEncoderDecoder', _scope_='mmseg',
        data_preprocessor=dict(type='MultiModalSegDataPreProcessor',
                               modalities=RGB_IR),
        backbone=dict(type='MultiBranchResNet', depth=18, base_channels=8),
        decode_head=fcn(), test_cfg=dict(mode='whole'))
    cfg.update(kw)
    return cfg


def late_fusion(**kw):
    return dict(type='LateFusionHead', head=fcn(),
                decision=dict(type='CertaintyWeightedDecision'), **kw)


def method_losses(**duc):
    return dict(
        duc=dict(type='DUCLoss', feat_dim=64, **duc),
        hard=dict(type='CombinationRegularizer', combinations=['ir'],
                  head=fcn()))


def test_seg_model_hands_its_layout_to_every_part():
    model = SEG_MODELS.build(seg_cfg(decode_head=late_fusion(),
                                     method_losses=method_losses()))
    assert model.layout_source == 'data_preprocessor.modalities'
    assert model.data_preprocessor.layout == LAYOUT
    assert model.backbone.layout == LAYOUT
    assert model.backbone.layout.kinds == ('colour', 'other')
    assert model.decode_head.layout == LAYOUT
    assert model.decode_head.decision.names == ('rgb', 'ir')
    assert model.method_losses['duc'].layout == LAYOUT
    assert model.method_losses['hard'].selector.layout == LAYOUT
    # it runs on 4 stacked channels, every combination of rgb and ir
    samples = [SegDataSample(metainfo=dict(img_shape=(32, 32),
                                           ori_shape=(32, 32)))
               for _ in range(2)]
    out = model.eval().predict_combinations(torch.rand(2, 4, 32, 32),
                                            samples, 'all')
    assert sorted(out) == ['ir', 'rgb', 'rgb+ir']


def test_cls_model_fills_the_backbone_a_wrapper_holds():
    model = CLS_MODELS.build(dict(
        type='MultiModalImageClassifier', _scope_='mmpretrain',
        data_preprocessor=dict(modalities=RGB_IR),
        backbone=dict(type='UDMLBackbone', hidden=8, backbone=dict(
            type='MultiBranchResNet', depth=18, base_channels=8,
            out_indices=(3, ))),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LateFusionHead', head=linear()),
        method_losses=[dict(type='CombinationRegularizer',
                            combinations=['ir'], head=linear())]))
    assert model.backbone.backbone.layout == LAYOUT
    assert list(model.backbone.embeddings) == ['rgb', 'ir']
    assert model.head.layout == LAYOUT
    assert model.method_losses['0'].selector.layout == LAYOUT


def test_early_fusion_backbone_takes_its_channels_from_the_layout():
    model = SEG_MODELS.build(seg_cfg(backbone=dict(
        type='EarlyFusionResNet', depth=18, base_channels=8,
        stem_channels=8)))
    assert model.backbone.layout == LAYOUT
    assert model.backbone.conv1.in_channels == 4


@pytest.mark.parametrize('part, option', [
    (dict(backbone=dict(type='MultiBranchResNet', modalities='rgb:3',
                        depth=18, base_channels=8)), 'backbone.modalities'),
    (dict(decode_head=late_fusion(modalities='rgb:3')),
     'decode_head.modalities'),
    (dict(method_losses=method_losses(modalities='rgb:3')),
     'method_losses.duc.modalities'),
    (dict(backbone=dict(type='UDMLBackbone', backbone=dict(
        type='MultiBranchResNet', modalities='rgb:3', depth=18,
        base_channels=8))), 'backbone.backbone.modalities'),
    (dict(auxiliary_head=dict(type='CombinationRegularizerSegHead',
                              modalities='rgb:3', head=fcn())),
     'auxiliary_head.modalities'),
])
def test_another_layout_is_an_error_naming_both(part, option):
    with pytest.raises(ValueError, match=re.escape(
            f"{option} ModalityLayout('rgb:3') != "
            "data_preprocessor.modalities ModalityLayout('rgb:3,ir:1')"
    )):
        SEG_MODELS.build(seg_cfg(**part))


def test_without_a_multimodal_preprocessor_the_backbone_declares_it():
    model = SEG_MODELS.build(seg_cfg(
        data_preprocessor=None,
        backbone=dict(type='MultiBranchResNet', modalities=RGB_IR, depth=18,
                      base_channels=8),
        decode_head=late_fusion()))
    assert model.layout_source == 'backbone.modalities'
    assert model.decode_head.layout == LAYOUT
    with pytest.raises(ValueError, match=re.escape(
            "decode_head.modalities ModalityLayout('rgb:3') != "
            'backbone.modalities')):
        SEG_MODELS.build(seg_cfg(
            data_preprocessor=None,
            backbone=dict(type='MultiBranchResNet', modalities=RGB_IR,
                          depth=18, base_channels=8),
            decode_head=late_fusion(modalities='rgb:3')))


def test_a_layout_declared_nowhere_is_an_error():
    with pytest.raises(ValueError,
                       match='`data_preprocessor.modalities` is not set'):
        SEG_MODELS.build(seg_cfg(data_preprocessor=dict(
            type='MultiModalSegDataPreProcessor')))
    with pytest.raises(ValueError, match='`backbone.modalities` is not set'):
        SEG_MODELS.build(seg_cfg(data_preprocessor=None))


def test_fill_model_layout_leaves_the_given_configs_unchanged():
    backbone = dict(type='MultiBranchResNet', depth=18)
    losses = [dict(type='DUCLoss', feat_dim=4)]
    parts, source = fill_model_layout(
        dict(data_preprocessor=dict(type='MultiModalSegDataPreProcessor',
                                    modalities=RGB_IR),
             backbone=backbone, method_losses=losses), SEG_MODELS)
    assert source == (LAYOUT, 'data_preprocessor.modalities')
    assert parts['backbone']['modalities'] == LAYOUT
    assert parts['method_losses'][0]['modalities'] == LAYOUT
    assert 'modalities' not in backbone and 'modalities' not in losses[0]
    with pytest.raises(ValueError, match=re.escape(
            "method_losses[0].modalities ModalityLayout('rgb:3') != x.m")):
        fill_model_layout(
            dict(method_losses=[dict(type='DUCLoss', feat_dim=4,
                                     modalities='rgb:3')]),
            SEG_MODELS, source=(LAYOUT, 'x.m'))


def _distiller(tmp_path, teacher_layout=None, **kw):
    net = seg_cfg()
    teacher = seg_cfg(data_preprocessor=dict(
        type='MultiModalSegDataPreProcessor', modalities=teacher_layout))
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save({'state_dict': SEG_MODELS.build(net).state_dict()}, ckpt)
    return SEG_MODELS.build(dict(
        type='SegDistiller', _scope_='mmseg', student=net, teacher=teacher,
        teacher_ckpt=ckpt,
        student_recorders=dict(c5=dict(path='backbone', index=3)),
        method_losses=dict(mar=dict(
            type='CombinationRegularizer', inputs='fused_feats',
            head=fcn())),
        aux_heads=dict(aux=dict(
            head=dict(type='CombinationRegularizerSegHead', head=fcn()),
            inputs='student.c5')), **kw))


def test_distiller_hands_the_students_layout_to_teacher_and_losses(
        tmp_path):
    model = _distiller(tmp_path)  # the teacher's preprocessor names none
    assert model.teacher.layout == LAYOUT
    assert model.teacher.data_preprocessor.layout == LAYOUT
    assert model.method_losses['mar'].selector.layout == LAYOUT
    assert model.aux_heads['aux'].selector.layout == LAYOUT
    with pytest.raises(ValueError, match=re.escape(
            "teacher.data_preprocessor.modalities ModalityLayout('rgb:3,"
            "depth:1') != student.data_preprocessor.modalities "
            "ModalityLayout('rgb:3,ir:1')")):
        _distiller(tmp_path, teacher_layout=dict(rgb=3, depth=1))
