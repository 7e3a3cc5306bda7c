# Multi-branch (ESANet-like) on the synthetic RGB-D classification set, CPU
# size: two ResNet-18 branches of width 16 with masked SE fusion of the
# deepest stage, global pooling, linear head; trained on full modalities.
_base_ = [
    '../_base_/datasets/synthetic_cls.py', '../_base_/default_runtime_cls.py',
    '../_base_/schedules/cpu_cls_600it.py',
    '../_base_/models/multi_branch_r50_cls.py'
]
num_classes = 8
width = 16
model = dict(
    data_preprocessor=dict(
        modalities={{_base_.modalities}},
        # depth (m): about the mean and std of the synthetic sets' depth
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.4]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[0.5]),
        # full modalities in every training sample
        train_sampler=dict(type='FixedCombination', combination=None)),
    backbone=dict(depth=18, base_channels=width),
    head=dict(num_classes=num_classes, in_channels=8 * width))
