# DI-MML stage 1 on NYUDv2 (40 classes), in the papers' RGB-D setting (the
# release has no RGB-D experiment): two ImageNet-initialised ResNet-50
# branches without fusion inside the encoder, one UPerHead per modality
# trained on its own modality only (UnimodalTaskLoss), one UPerHead shared
# by both modalities (SharedHeadLoss, w = 1), both with the class-weighted
# cross-entropy of the other NYUDv2 configs, the DUC loss (T = 50) on up to
# 1024 labelled last-stage pixels per batch from iteration 4000 on, full
# modalities in training; ESANet's augmentation, 480 x 640, batch 8, SGD
# Nesterov lr 0.01, 300 epochs of 100 iterations, one-cycle (the schedule
# of the other NYUDv2 configs, so the comparison has the same budget).
# Inference: per-pixel certainty-aware weighting (T = 1) of the present
# modalities' heads. UPerHead, not ESANet's decoder: its context neck would
# be one module shared by both modalities, coupling what DI-MML detaches.
# The DUC split is computed at epoch 40 of 300, the release's epoch 20 of
# 150 at the same fraction; its pass keeps about 100k pixels x 2048
# channels per modality on the host (`max_batches` of the hook bounds it).
_base_ = ['../baselines/multi_branch_full_nyud_rgbd.py']
feat_dim = 2048  # last-stage channels of ResNet-50
duc_begin = 4000  # iteration: epoch 40 x 100
uper_head = dict(
    type='UPerHead',
    in_channels=[256, 512, 1024, 2048],
    in_index=[0, 1, 2, 3],
    pool_scales=(1, 2, 3, 6),
    channels=512,
    dropout_ratio=0.1,
    num_classes={{_base_.num_classes}},
    norm_cfg={{_base_.norm_cfg}},
    align_corners=False,
    loss_decode={{_base_.task_loss}})
model = dict(
    neck=None,
    decode_head=dict(
        _delete_=True,
        type='LateFusionHead',
        head=uper_head,
        decision=dict(type='CertaintyWeightedDecision', temperature=1.0),
        fused_loss=False),
    method_losses=dict(
        # the median-frequency class-weighted CE of the other NYUDv2 configs
        unimodal=dict(type='UnimodalTaskLoss', loss={{_base_.task_loss}}),
        shared=dict(
            type='SharedHeadLoss',
            head=uper_head,
            loss={{_base_.task_loss}},
            loss_weight=1.0),
        duc=dict(
            type='DUCLoss',
            feat_dim=feat_dim,
            temperature=50.0,
            max_pixels=1024)))
custom_hooks = [dict(type='DUCSplitHook', begin=duc_begin)]
