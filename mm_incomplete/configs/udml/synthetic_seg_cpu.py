# UDML on the synthetic RGB-D segmentation set, CPU size: the multi-branch
# ModDrop baseline (two ResNet-18 branches of width 16, masked SE-mean fusion
# at every stage, UPerHead) wrapped in UDMLBackbone: a probabilistic
# embedding and a noise-level estimator per modality on the last stage, and
# every stage's per-modality feature scaled by (1 + w_bm) before fusion
# (image-level weights at every fusion point). Training data is clean for the
# first half and noisy afterwards (level per sample and modality, drawn on
# every load); the dynamic weights switch on at 60 % (release: epochs 50 and
# 60 of 100). Loss: CE(fused) + gamma sum_m CE(single m) + beta KL + 0.1 MSE.
_base_ = ['../baselines/multi_branch_moddrop_synthetic_seg_cpu.py']
noise_begin = 300
weights_begin = 360
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
        scale=(64, 64),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='MultiModalRandomCrop', crop_size=crop_size),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='RGBPhotoMetricDistortion', brightness_delta=16,
         hue_delta=5),
    # clean (enabled=False) until UDMLSwitchHook's noise_begin
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
# no workers: the noise switch acts at exactly `noise_begin` (with workers
# it would come after their prefetched batches)
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(clip_grad=dict(max_norm=40, norm_type=2))
custom_hooks = [
    dict(
        type='UDMLSwitchHook',
        noise_begin=noise_begin,
        weights_begin=weights_begin,
        by_epoch=False)
]
