# DMRNet segmentation model of the papers' NYUDv2 / SUN RGB-D setting: two
# ResNet-50 branches fused ESANet-style at every stage, the probabilistic
# embedding of the deepest fused feature, UPerHead (pyramid pooling context
# module + FPN decoder) and a second UPerHead as the hard-combination
# regularizer (weight 0.5) on the depth-only samples. Every training sample
# draws one of the 3 combinations uniformly (official code).
# Child configs set the classes (decode_head / auxiliary_head.head
# num_classes) and the data preprocessor's `size`.
dmrnet_uper_head = dict(
    type='UPerHead',
    in_channels=[256, 512, 1024, 2048],
    in_index=[0, 1, 2, 3],
    pool_scales=(1, 2, 3, 6),
    channels=512,
    dropout_ratio=0.1,
    num_classes=40,
    norm_cfg=dict(type='BN', requires_grad=True),
    align_corners=False,
    loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
model = dict(
    type='DMRNetEncoderDecoder',
    data_preprocessor=dict(
        type='MultiModalSegDataPreProcessor',
        modalities=dict(rgb=3, depth=1),
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.8]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[1.4]),
        size=(480, 640),
        seg_pad_val=255,
        train_sampler=dict(type='UniformCombinations')),
    backbone=dict(
        type='MultiBranchResNet',
        modalities=dict(rgb=3, depth=1),
        depth=50,
        base_channels=64,
        out_indices=(0, 1, 2, 3)),
    neck=dict(
        type='ProbabilisticEmbeddingNeck',
        in_channels=[256, 512, 1024, 2048],
        in_index=-1),
    decode_head=dmrnet_uper_head,
    auxiliary_head=dict(
        type='CombinationRegularizerSegHead',
        modalities=dict(rgb=3, depth=1),
        combinations=['depth'],
        head=dict(
            dmrnet_uper_head,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False,
                loss_weight=0.5))),
    kl_loss=dict(type='GaussianKLLoss', loss_weight=1e-3),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
