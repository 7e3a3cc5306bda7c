# DMRNet segmentation model of the papers' NYUDv2 / SUN RGB-D setting: the
# ESANet-like multi-branch model of the baselines (two ResNet-50 branches,
# masked SE fusion at every stage, UPerHead) plus
# - the probabilistic embedding of the deepest fused feature (before the
#   UPerHead's pyramid-pooling context module),
# - the KL term (weight 1e-3),
# - a second UPerHead as the hard-combination regularizer (weight 0.5) on the
#   depth-only samples.
# Every training sample drops RGB and depth independently with probability
# 0.5, redrawn if both are dropped: the 3 combinations have 1/3 each, as in
# the official code's uniform draw (and the ModDrop baseline).
# Child configs set the classes (decode_head.num_classes and
# auxiliary_head.head.num_classes) and the preprocessor's `size`.
_base_ = ['../../_base_/models/multi_branch_r50_uper.py']
dmrnet_uper_head = dict(
    type='UPerHead',
    in_channels=[256, 512, 1024, 2048],
    in_index=[0, 1, 2, 3],
    pool_scales=(1, 2, 3, 6),
    channels=512,
    dropout_ratio=0.1,
    num_classes=40,
    norm_cfg={{_base_.norm_cfg}},
    align_corners=False,
    loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.5))
model = dict(
    type='DMRNetEncoderDecoder',
    data_preprocessor=dict(
        train_sampler=dict(type='ModDrop', drop_prob=0.5)),
    neck=dict(
        type='ProbabilisticEmbeddingNeck',
        in_channels=[256, 512, 1024, 2048],
        in_index=-1),
    auxiliary_head=dict(
        type='CombinationRegularizerSegHead',
        modalities=dict(rgb=3, depth=1),
        combinations=['depth'],
        head=dmrnet_uper_head),
    kl_loss=dict(type='GaussianKLLoss', loss_weight=1e-3))
