# Early-fusion RGB-D segmentor: one ResNet-50 on the stacked channels
# (RGB + depth = 4 input channels), channels of missing modalities zeroed,
# the same preprocessor and UPerHead decoder as the multi-branch model
# (multi_branch_r50_uper.py); only the backbone differs. Trains from scratch.
# Child configs set the classes, the padding `size` and the `train_sampler`.
_base_ = ['./multi_branch_r50_uper.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='EarlyFusionResNet',
        depth=50,
        base_channels=64,
        stem_channels=64,
        out_indices=(0, 1, 2, 3),
        norm_cfg={{_base_.norm_cfg}}))
