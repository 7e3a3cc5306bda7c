# UDML on NYUDv2 (40 classes), the papers' setting of the multi-branch
# ModDrop baseline (baselines/multi_branch_moddrop_nyud_rgbd.py): two
# ResNet-50 branches (parallel form, masked SE-mean fusion at every stage),
# the baseline's decoder, initialisation and loss, 480 x 640, batch 8, SGD Nesterov lr 0.01, 300 epochs of 100
# iterations, one-cycle. UDMLBackbone adds a probabilistic embedding and a
# noise-level estimator per modality on the last stage (2048 channels) and
# scales every stage's per-modality feature by (1 + w_bm) before fusion.
# Switches at the release's fractions of training: noise from 50 %
# (iteration 15000), dynamic weights from 60 % (18000). gamma 4, beta 1e-5,
# estimator 0.1, gradient norm clipped at 40. Not run (no result here).
_base_ = ['../baselines/multi_branch_moddrop_nyud_rgbd.py']
noise_begin = 15000  # epoch 150 of 300 x 100 iterations
weights_begin = 18000  # epoch 180
crop_size = {{_base_.crop_size}}
model = dict(
    backbone=dict(
        _delete_=True,
        type='UDMLBackbone',
        backbone={{_base_.model.backbone}},
        hidden=256,
        dropout=0.1),
    method_losses=dict(
        udml=dict(
            type='UDMLLoss',
            gamma=4.0,
            beta=1e-5,
            estimator_weight=0.1,
            momentum=0.9)))
train_pipeline = [
    dict(type='LoadMultiModalImages'),  # `modalities`: the dataset's
    dict(type='LoadMultiModalAnnotations'),
    dict(
        type='MultiModalRandomResize',
        scale=(640, 480),
        ratio_range=(0.5, 1.75),
        keep_ratio=True),
    dict(type='MultiModalRandomCrop', crop_size=crop_size,
         cat_max_ratio=0.75),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='RGBPhotoMetricDistortion'),
    # clean (enabled=False) until UDMLSwitchHook's noise_begin; the flag is
    # shared with the workers, which follow after their prefetched batches
    dict(
        type='MultiModalNoiseInjection',
        modalities=('rgb', 'depth'),
        max_level=11,
        clean_prob=0.5,
        relative_modalities=('depth', ),
        enabled=False),
    dict(type='MultiModalPad', size=crop_size),
    dict(type='PackMultiModalSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=40, norm_type=2))
custom_hooks = [
    dict(
        type='UDMLSwitchHook',
        noise_begin=noise_begin,
        weights_begin=weights_begin,
        by_epoch=False)
]
