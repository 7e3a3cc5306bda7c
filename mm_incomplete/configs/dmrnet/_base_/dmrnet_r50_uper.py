# DMRNet segmentation model of the papers' NYUDv2 / SUN RGB-D setting, as
# plug-ins on the ESANet-like multi-branch model of the baselines (two
# ResNet-50 branches, masked SE fusion at every stage, UPerHead):
# - neck: the probabilistic embedding of the deepest fused feature (before
#   the UPerHead's pyramid-pooling context module);
# - method_losses.hard_combination: a second UPerHead trained on the hard
#   combination's samples only (weight 0.5; mined from the mean embedding
#   variance when `combinations=None`);
# - method_losses.kl: the KL term (weight 1e-3).
# Every training sample drops RGB and depth independently with probability
# 0.5, redrawn if both are dropped: the 3 combinations have 1/3 each, as in
# the official code's uniform draw (and the ModDrop baseline).
# Child configs set the classes (decode_head.num_classes and
# method_losses.hard_combination.head.num_classes), the preprocessor's
# `size` and the warm-up of the two terms (LossScaleWarmupHook with
# modules=['method_losses']).
_base_ = ['../../_base_/models/multi_branch_r50_uper.py']
stage_channels = [256, 512, 1024, 2048]
model = dict(
    type='MultiModalEncoderDecoder',
    data_preprocessor=dict(
        train_sampler=dict(type='ModDrop', drop_prob=0.5)),
    neck=dict(
        type='ProbabilisticEmbeddingNeck',
        in_channels=stage_channels,
        in_index=-1),
    method_losses=dict(
        hard_combination=dict(
            type='CombinationRegularizer',
            combinations=['depth'],
            inputs='neck_feats',
            prefix='aux',
            mining_score='embedding_variance',
            head=dict(
                type='UPerHead',
                in_channels=stage_channels,
                in_index=[0, 1, 2, 3],
                pool_scales=(1, 2, 3, 6),
                channels=512,
                dropout_ratio=0.1,
                num_classes=40,
                norm_cfg={{_base_.norm_cfg}},
                align_corners=False,
                loss_decode=dict(
                    type='CrossEntropyLoss', use_sigmoid=False,
                    loss_weight=0.5))),
        kl=dict(type='ProbabilisticEmbeddingKL', loss_weight=1e-3)))
