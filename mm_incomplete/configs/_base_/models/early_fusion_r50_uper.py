# Early-fusion RGB-D segmentor: one ResNet-50 on the stacked channels
# (RGB + depth = 4 input channels), channels of missing modalities zeroed,
# the same UPerHead decoder as the multi-branch model. Trains from scratch.
# Child configs set the classes, the padding `size` and the `train_sampler`.
norm_cfg = dict(type='SyncBN', requires_grad=True)  # BN when not distributed
model = dict(
    type='MultiModalEncoderDecoder',
    data_preprocessor=dict(
        type='MultiModalSegDataPreProcessor',
        modalities=dict(rgb=3, depth=1),
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.842]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[1.417]),
        seg_pad_val=255,
        test_combination=None),
    backbone=dict(
        type='EarlyFusionResNet',
        modalities=dict(rgb=3, depth=1),
        depth=50,
        base_channels=64,
        stem_channels=64,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='UPerHead',
        in_channels=[256, 512, 1024, 2048],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=40,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
