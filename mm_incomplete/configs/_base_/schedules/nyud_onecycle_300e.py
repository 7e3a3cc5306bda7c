# The papers' NYUDv2 schedule (ESANet / DMRNet / MMANet): SGD with Nesterov,
# lr 0.01, momentum 0.9, weight decay 1e-4, 300 epochs, one-cycle. With 795
# training images and batch 8 an epoch is 100 iterations (drop_last).
epochs = 300
iters_per_epoch = 100
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True),
    clip_grad=None)
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=0.01,
        total_steps=epochs * iters_per_epoch,
        pct_start=0.1,
        anneal_strategy='cos',
        div_factor=25,
        final_div_factor=1e4,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=epochs * iters_per_epoch,
    val_interval=10 * iters_per_epoch)
val_cfg = dict(type='MultiCombinationValLoop', combinations='all')
test_cfg = dict(type='MultiCombinationTestLoop', combinations='all')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=10 * iters_per_epoch,
        max_keep_ckpts=3,
        save_best='mean/mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
