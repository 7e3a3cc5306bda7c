# DMRNet on the synthetic RGB-D segmentation set, CPU size (a few minutes on
# 2 cores). Two ResNet-18 branches of width 16, UPerHead; each training
# sample draws one of the 3 combinations uniformly (as the official code).
# The hard combination is mined over iterations [0, 100) as the one with the
# largest mean embedding variance; the KL term and the hard-combination
# decoder start at iteration 100.
_base_ = [
    '../_base_/datasets/synthetic_seg.py', '../_base_/default_runtime_seg.py',
    '../_base_/schedules/cpu_seg_600it.py'
]
num_classes = 9
width = 16
stage_channels = [width * 2**i for i in range(4)]
# None: mined by CombinationMiningHook; or fix it, e.g. ['depth']
hard_combinations = None
mining_window = (0, 100)  # iterations [begin, end)
regularizer_begin = 100  # first iteration of the KL and auxiliary terms

uper_head = dict(
    type='UPerHead',
    in_channels=stage_channels,
    in_index=[0, 1, 2, 3],
    pool_scales=(1, 2, 3, 6),
    channels=4 * width,
    dropout_ratio=0.1,
    num_classes=num_classes,
    norm_cfg=dict(type='BN', requires_grad=True),
    align_corners=False,
    loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
model = dict(
    type='DMRNetEncoderDecoder',
    data_preprocessor=dict(
        type='MultiModalSegDataPreProcessor',
        modalities={{_base_.modalities}},
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.8]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[1.4]),
        size={{_base_.crop_size}},
        seg_pad_val=255,
        train_sampler=dict(type='UniformCombinations')),
    backbone=dict(
        type='MultiBranchResNet',
        modalities={{_base_.modalities}},
        depth=18,
        base_channels=width,
        out_indices=(0, 1, 2, 3)),
    # DMRNet's probabilistic embedding of the deepest fused feature
    neck=dict(
        type='ProbabilisticEmbeddingNeck',
        in_channels=stage_channels,
        in_index=-1),
    decode_head=uper_head,
    # the hard-combination regularizer: a second decoder, weight 0.5
    auxiliary_head=dict(
        type='CombinationRegularizerSegHead',
        modalities={{_base_.modalities}},
        combinations=hard_combinations,
        head=dict(
            uper_head,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False,
                loss_weight=0.5))),
    kl_loss=dict(type='GaussianKLLoss', loss_weight=1e-3),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
custom_hooks = [
    dict(
        type='CombinationMiningHook',
        begin=mining_window[0],
        end=mining_window[1]),
    dict(
        type='LossScaleWarmupHook',
        modules=['auxiliary_head', 'kl_loss'],
        begin=regularizer_begin),
]
