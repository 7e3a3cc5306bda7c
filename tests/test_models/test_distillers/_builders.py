"""Tiny student/teacher configs and batches for the distiller tests."""
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import mm_incomplete  # noqa: F401  registers the modules

LAYOUT = dict(rgb=3, depth=1)
NUM_CLASSES = 5


def seg_net(train_sampler=None, size=32, aux=False):
    cfg = dict(
        type='MultiModalEncoderDecoder',
        data_preprocessor=dict(
            type='MultiModalSegDataPreProcessor', modalities=LAYOUT,
            mean=dict(rgb=[128.] * 3, depth=[2.]),
            std=dict(rgb=[64.] * 3, depth=[1.]), size=(size, size),
            train_sampler=train_sampler),
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=4),
        decode_head=dict(type='FCNHead', in_channels=32, in_index=3,
                         channels=8, num_convs=1, num_classes=NUM_CLASSES),
        test_cfg=dict(mode='whole'))
    return cfg


def seg_distiller(ckpt, train_sampler=None, aux_combinations=None, **kw):
    cfg = dict(
        type='SegDistiller',
        student=seg_net(train_sampler),
        teacher=seg_net(),
        teacher_ckpt=ckpt,
        student_recorders=dict(
            feats='backbone', c4=dict(path='backbone', index=3),
            logits='decode_head.conv_seg'),
        teacher_recorders=dict(c4=dict(path='backbone', index=3),
                               logits='decode_head.conv_seg'),
        aux_heads=dict(mar=dict(
            inputs='student.feats',
            head=dict(
                type='CombinationRegularizerSegHead', modalities=LAYOUT,
                combinations=aux_combinations,
                head=dict(type='FCNHead', in_channels=32, in_index=3,
                          channels=8, num_convs=1, num_classes=NUM_CLASSES,
                          loss_decode=dict(type='CrossEntropyLoss',
                                           loss_weight=0.2))))),
        distill_losses=dict(loss_mad=dict(
            type='MarginAwareDistillLoss', loss_weight=4.0,
            inputs=dict(feat_s='student.c4', feat_t='teacher.c4',
                        logits_t='teacher.logits'))))
    cfg.update(kw)
    return cfg


def save_teacher(path, cfg=None):
    """Build the teacher config, save its weights; returns the state."""
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(1)
    model = MODELS.build(cfg or seg_net())
    # non-trivial BN statistics, so 'never moves' is a real check
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    state = model.state_dict()
    torch.save({'state_dict': state, 'meta': {}}, path)
    return state


def seg_batch(n=2, size=32, seed=0):
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(size, size),
                                        ori_shape=(size, size)))
        s.gt_sem_seg = PixelData(data=torch.randint(
            0, NUM_CLASSES, (1, size, size), generator=g))
        samples.append(s)
    inputs = [torch.rand(4, size, size, generator=g) * 255 for _ in range(n)]
    for x in inputs:
        x[3] = x[3] / 50 + 0.5  # depth in metres
    return dict(inputs=inputs, data_samples=samples)
