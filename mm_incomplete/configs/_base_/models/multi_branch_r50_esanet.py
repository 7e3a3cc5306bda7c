# The papers' NYUDv2 / SUN RGB-D network (ESANet's code base, as DMRNet's
# and MMANet's official segmentation code set it): two ResNet-50 branches,
# each initialised from ImageNet, masked squeeze-and-excitation fusion at
# every stage (parallel form), ESANet's decoder:
# - neck: ESANetContextNeck = pyramid-pooling context module (bins 1 and 5,
#   512 channels) on the deepest fused feature + 1x1 ConvBNReLU projections
#   of the 1/4, 1/8, 1/16 fused features to 128, 256, 512 channels;
# - decode head: ESANetHead = three decoder modules of 512, 256, 128
#   channels (3x3 conv, three non-bottleneck-1D blocks, learned x2
#   upsampling, + the projected skip), a side output per module (1/32,
#   1/16, 1/8, each supervised with weight 1), a 3x3 output conv and two
#   learned x2 upsamplings to full size.
# ImageNet weights: `pretrained` below (torchvision's resnet50-0676ba61.pth,
# downloaded to $TORCH_HOME/hub/checkpoints on first use); the depth branch's
# first conv gets the RGB weights summed over the input channels (ESANet).
# Offline: `--cfg-options model.backbone.init_cfg.checkpoint=/path/to/
# resnet50-0676ba61.pth` (or put the file in $TORCH_HOME/hub/checkpoints).
# Child configs set the classes (decode_head.num_classes), the class-weighted
# task loss, the preprocessor's padding `size` and its `train_sampler`.
# UPerHead instead: `neck=None` and `decode_head` of multi_branch_r50_uper.py
# (see baselines/multi_branch_moddrop_nyud_rgbd_uper.py).
# The modality layout: a child that adds a dataset base gives the dataset
# base's `modalities` to `data_preprocessor.modalities`; the model hands it
# to the backbone and every other part that takes one.
norm_cfg = dict(type='SyncBN', requires_grad=True)  # BN when not distributed
pretrained = 'torchvision://resnet50'
model = dict(
    type='MultiModalEncoderDecoder',
    data_preprocessor=dict(
        type='MultiModalSegDataPreProcessor',
        # RGB in RGB order (the loader's), ImageNet statistics; depth in
        # metres with ESANet's NYUv2 statistics
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
        feedback=None,
        init_cfg=dict(type='PretrainedBranches', checkpoint=pretrained)),
    neck=dict(
        type='ESANetContextNeck',
        in_channels=[256, 512, 1024, 2048],
        skip_channels=(128, 256, 512),
        context_channels=512,
        pool_scales=(1, 5),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='ESANetHead',
        in_channels=[128, 256, 512, 512],
        decoder_channels=(512, 256, 128),
        num_blocks=3,
        upsampling='learned-3x3-zeropad',
        side_loss_weights=(1.0, 1.0, 1.0),
        num_classes=40,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
