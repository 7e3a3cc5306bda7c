# MMANet on NYUDv2 (40 classes), the paper's setting. Student (deployment
# network): the multi-branch model (two ImageNet-initialised ResNet-50
# branches, ESANet's decoder, class-weighted multi-scale task loss, ESANet's
# augmentation) trained with ModDrop; teacher: nyud_rgbd_teacher.py,
# frozen, on full RGB-D; regularization network (MAR): a second full ESANet
# decoder on the student's neck outputs (context + projected 1/16, 1/8,
# 1/4 skips, as the official `auxi_decoder`), trained on the weak
# combination only. MAD distils, as the official code, the context-module
# output and the projected 1/16 and 1/8 skips (`fuse_cache[0:3]`), the
# `neck` outputs 3, 2, 1. 300 epochs of 100 iterations:
#   epochs 7-10: validate every epoch, accumulate each combination's mIoU drop
#                from rgb+depth (held-out split, see below);
#   after epoch 10: the weak combination = the largest mean drop;
#   from epoch 11: L = L_task + 4.0 L_MAD (3 levels) + 0.2 L_aux.
# NYUDv2 has only train (795) and test (654) frames; the official code mines
# on the test split. Here mining reads a held-out validation list carved
# from train (see configs/mmanet/README.md for the two list files).
_base_ = [
    '../baselines/multi_branch_moddrop_nyud_rgbd.py',
    './_base_/mmanet_seg_distiller.py'
]
student = {{_base_.model}}
teacher = {{_base_.model}}
num_classes = {{_base_.num_classes}}
iters_per_epoch = 100
mining_begin, mining_end = 7 * iters_per_epoch, 10 * iters_per_epoch
mmanet_begin = 10 * iters_per_epoch  # epoch 11 of 300 (1-based)
model = dict(
    _delete_=True,
    type='SegDistiller',
    student=student,
    teacher=teacher,
    teacher_ckpt='work_dirs/mmanet/nyud_rgbd_teacher/iter_30000.pth',
    teacher_combination=None,
    # ESANet's decoder: the levels are outputs of the context neck
    student_recorders=dict(
        context=dict(path='neck', index=3),
        skip16=dict(path='neck', index=2),
        skip8=dict(path='neck', index=1)),
    teacher_recorders=dict(
        context=dict(path='neck', index=3),
        skip16=dict(path='neck', index=2),
        skip8=dict(path='neck', index=1),
        logits='decode_head.conv_seg'),
    distill_losses={{_base_.mmanet_distill_losses}},
    method_losses=dict(
        mar=dict(
            type='CombinationRegularizer',
            combinations=None,
            inputs='neck_feats',
            prefix='mar',
            # a full ESANet decoder (weight 0.2 times the sum of its four
            # scales, as the official auxi_scale on its loss)
            head=dict(
                type='ESANetHead',
                in_channels=[128, 256, 512, 512],
                decoder_channels=(512, 256, 128),
                num_blocks=3,
                upsampling='learned-3x3-zeropad',
                side_loss_weights=(1.0, 1.0, 1.0),
                num_classes=num_classes,
                norm_cfg=dict(type='SyncBN', requires_grad=True),
                align_corners=False,
                loss_decode=dict(
                    type='FileWeightedCrossEntropyLoss',
                    class_weight_file={{_base_.class_weight_file}},
                    avg_non_ignore=True,
                    loss_weight=0.2)))))
# held-out validation frames (from train) for mining; test stays the test
train_dataloader = dict(
    dataset=dict(ann_file='splits/train_mmanet.txt'))
val_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='NYUDv2Dataset',
        data_root='data/nyudv2',
        modalities={{_base_.modalities}},
        num_classes=num_classes,
        split='train',
        ann_file='splits/val_mmanet.txt',
        pipeline={{_base_.test_pipeline}}))
# validate every epoch inside the mining window, every 10 epochs otherwise
# mmengine switches interval when the *next* iteration (runner.iter + 1)
# reaches a milestone: validations at mining_begin, ..., mining_end
train_cfg = dict(dynamic_intervals=[(mining_begin, iters_per_epoch),
                                    (mining_end + 2, 10 * iters_per_epoch)])
custom_hooks = [
    dict(type='WeakCombinationMiningHook', metric='mIoU',
         begin=mining_begin, end=mining_end),
    dict(type='LossScaleWarmupHook',
         modules={{_base_.mmanet_warmup_modules}}, begin=mmanet_begin),
]
