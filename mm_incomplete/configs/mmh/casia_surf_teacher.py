# MMH teacher on CASIA-SURF face anti-spoofing (rgb + depth + ir, live vs
# spoof), the paper's setting: one ResNet-18 branch per modality (width
# 64) with masked squeeze-and-excitation fusion, 112 x 112 inputs, trained
# on full modalities. The fused stage-3 and stage-4 maps are output (7 x 7
# and 4 x 4; the head reads stage 4, DAD compares both). SGD Nesterov lr
# 1e-3, momentum 0.9, weight decay 5e-4, batch 64, 50 epochs, lr x 0.1
# after epochs 8, 16 and 25, linear warm-up over the first 5 epochs (the
# release's GradualWarmupScheduler + MultiStepLR).
#   python tools/train.py configs/mmh/casia_surf_teacher.py
_base_ = [
    '../_base_/datasets/casia_surf.py', '../_base_/default_runtime_cls.py',
    '../_base_/models/multi_branch_r50_cls.py'
]
max_epochs = 50
model = dict(
    data_preprocessor=dict(
        modalities={{_base_.modalities}},
        # depth and IR are 8-bit images here (not metres)
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[127.5], ir=[127.5]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[127.5], ir=[127.5]),
        train_sampler=dict(type='FixedCombination', combination=None)),
    backbone=dict(depth=18, base_channels=64, out_indices=(2, 3)),
    head=dict(num_classes=2, in_channels=512))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4,
                   nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[8, 16, 25],
         gamma=0.1),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict(type='MultiCombinationValLoop', combinations='all')
test_cfg = dict(type='MultiCombinationTestLoop', combinations='all')
log_processor = dict(by_epoch=True)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # the model is selected on the validation list; the test list is only
    # tested (the release selected on its evaluation split)
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=2,
        save_best='mean/accuracy/top1',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False))
