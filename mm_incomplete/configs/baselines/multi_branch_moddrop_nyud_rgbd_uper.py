# The UPerHead option of multi_branch_moddrop_nyud_rgbd.py: the same
# ImageNet-initialised branches, loss, augmentation and schedule, but
# mmseg's UPerHead (pyramid pooling + FPN, 512 channels at every level) on
# the four fused stages instead of ESANet's decoder, and no deep
# supervision. About 5x the decoder FLOPs (see configs/baselines/README.md).
_base_ = ['./multi_branch_moddrop_nyud_rgbd.py']
model = dict(
    neck=None,
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[256, 512, 1024, 2048],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes={{_base_.num_classes}},
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.task_loss}}))
