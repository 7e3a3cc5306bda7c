# DI-MML stage 1 on SUN RGB-D scene classification (19 classes, RGB-D; the
# release has no RGB-D experiment) in the release's setting: one ResNet-18
# encoder per modality trained from scratch (as the release; for ImageNet
# weights a child config adds to model.backbone init_cfg=dict(
# type='PretrainedBranches', checkpoint='torchvision://resnet18')), no
# fusion inside the encoder, one linear head per modality trained on its own
# modality only (UnimodalTaskLoss), one linear head shared by both
# (SharedHeadLoss, w = 1), the DUC loss (T = 50, as for the release's image
# sets CREMA-D/ModelNet40) from epoch 20 on; full modalities in training;
# batch 16, SGD lr 1e-3, momentum 0.9, weight decay 1e-4, 150 epochs, lr x
# 0.1 at epoch 70. Inference: certainty-aware weighting (T = 1) of the
# present modalities' heads.
# SUN RGB-D has no validation split: `val_dataloader` reads the test list,
# so validation is logged only and no checkpoint is selected on it (the
# release selects on its test loader); tools/test.py the last checkpoint.
_base_ = [
    '../_base_/datasets/sunrgbd_scene.py', '../_base_/default_runtime_cls.py',
    '../_base_/models/multi_branch_r50_cls.py'
]
num_classes = 19
feat_dim = 512  # last-stage channels of ResNet-18
epochs = 150
linear_head = dict(
    type='LinearClsHead',
    num_classes=num_classes,
    in_channels=feat_dim,
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    topk=(1, ))
train_dataloader = dict(batch_size=16)
val_dataloader = dict(batch_size=16)
test_dataloader = val_dataloader
model = dict(
    data_preprocessor=dict(
        modalities={{_base_.modalities}},
        # full modalities in every training sample
        train_sampler=dict(type='FixedCombination', combination=None)),
    backbone=dict(depth=18, base_channels=64),
    head=dict(
        _delete_=True,
        type='LateFusionHead',
        head=linear_head,
        decision=dict(type='CertaintyWeightedDecision', temperature=1.0),
        fused_loss=False),
    method_losses=dict(
        unimodal=dict(type='UnimodalTaskLoss'),
        shared=dict(type='SharedHeadLoss', head=linear_head, loss_weight=1.0),
        duc=dict(
            type='DUCLoss',
            feat_dim=feat_dim,
            temperature=50.0)))
custom_hooks = [dict(type='DUCSplitHook', begin=20, by_epoch=True)]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='StepLR', step_size=70, gamma=0.1, by_epoch=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=epochs, val_interval=10)
val_cfg = dict(type='MultiCombinationValLoop', combinations='all')
test_cfg = dict(type='MultiCombinationTestLoop', combinations='all')
log_processor = dict(by_epoch=True)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=10,
        max_keep_ckpts=2,
        save_best=None),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False))
