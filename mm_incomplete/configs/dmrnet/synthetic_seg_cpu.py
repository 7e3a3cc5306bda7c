# DMRNet on the synthetic RGB-D segmentation set, CPU size: the ModDrop
# baseline (baselines/multi_branch_moddrop_synthetic_seg_cpu.py: two
# ResNet-18 branches of width 16, UPerHead, 600 iterations) plus DMRNet's
# probabilistic embedding of the deepest fused feature, the KL term (1e-3)
# and a second UPerHead trained on the hard combination (0.5). The hard
# combination is mined over iterations [0, 100) as the one with the largest
# mean embedding variance (set `hard_combinations = ['depth']` to fix it);
# the KL term and the hard-combination decoder start at iteration 100.
_base_ = ['../baselines/multi_branch_moddrop_synthetic_seg_cpu.py']
hard_combinations = None
mining_window = (0, 100)  # iterations [begin, end)
regularizer_begin = 100  # first iteration of the KL and auxiliary terms
stage_channels = [16, 32, 64, 128]  # the baseline's width-16 ResNet-18 stages
model = dict(
    type='DMRNetEncoderDecoder',
    neck=dict(
        type='ProbabilisticEmbeddingNeck',
        in_channels=stage_channels,
        in_index=-1),
    auxiliary_head=dict(
        type='CombinationRegularizerSegHead',
        modalities={{_base_.modalities}},
        combinations=hard_combinations,
        head=dict(
            type='UPerHead',
            in_channels=stage_channels,
            in_index=[0, 1, 2, 3],
            pool_scales=(1, 2, 3, 6),
            channels=64,  # as the baseline's decode head
            dropout_ratio=0.1,
            num_classes={{_base_.num_classes}},
            norm_cfg={{_base_.norm_cfg}},
            align_corners=False,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False,
                loss_weight=0.5))),
    kl_loss=dict(type='GaussianKLLoss', loss_weight=1e-3))
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
