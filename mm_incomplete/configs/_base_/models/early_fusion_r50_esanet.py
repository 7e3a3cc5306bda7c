# Early-fusion RGB-D segmentor of the papers' setting: one ResNet-50 on the
# stacked channels (RGB + depth = 4 input channels, channels of missing
# modalities zeroed), initialised from ImageNet (first conv: the RGB weights
# for the RGB channels, their sum over the input channels for depth), and
# ESANet's decoder as in multi_branch_r50_esanet.py. Offline: see there.
_base_ = ['./multi_branch_r50_esanet.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='EarlyFusionResNet',
        depth=50,
        base_channels=64,
        stem_channels=64,
        out_indices=(0, 1, 2, 3),
        norm_cfg={{_base_.norm_cfg}},
        init_cfg=dict(type='PretrainedBranches',
                      checkpoint={{_base_.pretrained}})))
