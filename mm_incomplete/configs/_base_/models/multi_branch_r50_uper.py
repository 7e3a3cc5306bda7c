# ESANet-like multi-branch RGB-D segmentor: one ResNet-50 per modality,
# squeeze-and-excitation fusion of the masked branches at every stage
# (parallel form: each branch sees only its own modality), UPerHead as
# decoder (pyramid pooling context module on the deepest fused feature + FPN
# over the four fused stages, ESANet's context module + skip decoder in mmseg
# terms). Everything trains from scratch. Child configs set the classes
# (decode_head.num_classes), the preprocessor's padding `size` and its
# `train_sampler` (absent: full modalities only).
# The modality layout: a child that adds a dataset base gives the dataset
# base's `modalities` to `data_preprocessor.modalities`; the model hands it
# to the backbone and every other part that takes one.
norm_cfg = dict(type='SyncBN', requires_grad=True)  # BN when not distributed
model = dict(
    type='MultiModalEncoderDecoder',
    data_preprocessor=dict(
        type='MultiModalSegDataPreProcessor',
        # RGB in RGB order (the loader's); depth in metres with ESANet's
        # NYUv2 statistics
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.842]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[1.417]),
        seg_pad_val=255,
        test_combination=None),
    backbone=dict(
        type='MultiBranchResNet',
        depth=50,
        base_channels=64,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        fusion=dict(type='SqueezeExciteFusion', reduction=16, reduce='mean'),
        feedback=None),
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
