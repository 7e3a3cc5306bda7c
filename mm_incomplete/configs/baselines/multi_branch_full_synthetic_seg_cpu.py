# Multi-branch (ESANet-like) on the synthetic RGB-D segmentation set, CPU
# size (a few minutes on 2 cores): two ResNet-18 branches of width 16 with
# masked SE fusion, UPerHead; trained on full modalities only.
_base_ = [
    '../_base_/datasets/synthetic_seg.py', '../_base_/default_runtime_seg.py',
    '../_base_/schedules/cpu_seg_600it.py',
    '../_base_/models/multi_branch_r50_uper.py'
]
num_classes = 9
width = 16
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        modalities={{_base_.modalities}},
        size={{_base_.crop_size}},
        # depth (m): about the mean and std of the synthetic sets' depth
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.4]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[0.5]),
        # full modalities in every training sample
        train_sampler=dict(type='FixedCombination', combination=None)),
    backbone=dict(
        depth=18,
        base_channels=width,
        norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=[width * 2**i for i in range(4)],
        channels=4 * width,
        num_classes=num_classes,
        norm_cfg=norm_cfg))
