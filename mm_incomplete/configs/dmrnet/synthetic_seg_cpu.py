# DMRNet on the synthetic RGB-D segmentation set, CPU size: the plug-ins of
# ./_base_/dmrnet_r50_uper.py on the model of the ModDrop baseline
# (baselines/multi_branch_moddrop_synthetic_seg_cpu.py: two ResNet-18
# branches of width 16, UPerHead, 600 iterations). The hard combination is
# mined over iterations [0, 100) as the one with the largest mean embedding
# variance (set `hard_combinations = ['depth']` to fix it); the KL term and
# the hard-combination decoder start at iteration 100.
_base_ = [
    '../_base_/datasets/synthetic_seg.py', '../_base_/default_runtime_seg.py',
    '../_base_/schedules/cpu_seg_600it.py', './_base_/dmrnet_r50_uper.py'
]
num_classes = 9
width = 16
stage_channels = [width * 2**i for i in range(4)]
norm_cfg = dict(type='BN', requires_grad=True)
hard_combinations = None
mining_window = (0, 100)  # iterations [begin, end)
regularizer_begin = 100  # first iteration of the KL and auxiliary terms
model = dict(
    # the sizes of the baseline (baselines/multi_branch_full_synthetic_...)
    data_preprocessor=dict(
        modalities={{_base_.modalities}},
        size={{_base_.crop_size}},
        # depth (m): about the mean and std of the synthetic sets' depth
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.4]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[0.5])),
    backbone=dict(
        depth=18,
        base_channels=width,
        norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=stage_channels,
        channels=4 * width,
        num_classes=num_classes,
        norm_cfg=norm_cfg),
    neck=dict(in_channels=stage_channels),
    method_losses=dict(
        hard_combination=dict(
            combinations=hard_combinations,
            head=dict(
                in_channels=stage_channels,
                channels=4 * width,  # as the decode head
                num_classes=num_classes,
                norm_cfg=norm_cfg))))
custom_hooks = [
    dict(
        type='CombinationMiningHook',
        begin=mining_window[0],
        end=mining_window[1]),
    dict(
        type='LossScaleWarmupHook',
        modules=['method_losses'],
        begin=regularizer_begin),
]
