# MMANet on the synthetic RGB-D segmentation set, CPU size (600 iterations).
# Deployment network (student): the ModDrop multi-branch model. Teacher: the
# same network trained on full modalities (synthetic_seg_teacher_cpu.py),
# frozen, seeing every modality. Regularization network: an FCN head on
# the student's fused 1/16 features whose loss counts only the weak
# combination's samples (MAR). The weak combination is mined from the
# validation split at iterations 100, 150, 200 (largest mean mIoU drop from
# rgb+depth); MAD and MAR start at iteration 200:
#   L = L_task + 4.0 L_MAD (3 levels) + 0.2 L_aux
#   python tools/train.py configs/mmanet/synthetic_seg_cpu.py \
#       --cfg-options model.teacher_ckpt=work_dirs/mmanet/synthetic_seg_teacher_cpu/iter_600.pth
_base_ = [
    '../baselines/multi_branch_moddrop_synthetic_seg_cpu.py',
    './_base_/mmanet_seg_distiller.py'
]
student = {{_base_.model}}
teacher = {{_base_.model}}
width = 16
num_classes = 9
mining_begin, mining_end = 100, 200  # validations inside the window
mmanet_begin = 200  # first iteration with MAD and MAR
model = dict(
    _delete_=True,
    type='SegDistiller',
    student=student,
    teacher=teacher,
    teacher_ckpt='work_dirs/mmanet/synthetic_seg_teacher_cpu/iter_600.pth',
    teacher_combination=None,  # the teacher sees rgb+depth
    student_recorders={{_base_.mmanet_student_recorders}},
    teacher_recorders={{_base_.mmanet_teacher_recorders}},
    distill_losses={{_base_.mmanet_distill_losses}},
    method_losses=dict(
        mar=dict(
            type='CombinationRegularizer',
            combinations=None,  # mined by WeakCombinationMiningHook
            inputs='fused_feats',
            prefix='mar',
            # an FCN head on the 1/16 fused feature: its BatchNorm works on
            # a sub-batch of one selected sample (a pyramid pooling head's
            # 1x1 branch does not)
            head=dict(
                type='FCNHead',
                in_channels=4 * width,
                in_index=2,
                channels=2 * width,
                num_convs=1,
                concat_input=False,
                dropout_ratio=0.1,
                num_classes=num_classes,
                norm_cfg=dict(type='BN', requires_grad=True),
                align_corners=False,
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.2)))))
# validate every 50 iterations inside the mining window, then at the end
# mmengine switches interval when the *next* iteration (runner.iter + 1)
# reaches a milestone: validations at mining_begin, ..., mining_end
train_cfg = dict(dynamic_intervals=[(mining_begin, 50),
                                    (mining_end + 2, 600)])
custom_hooks = [
    dict(type='WeakCombinationMiningHook', metric='mIoU',
         begin=mining_begin, end=mining_end),
    dict(type='LossScaleWarmupHook',
         modules={{_base_.mmanet_warmup_modules}}, begin=mmanet_begin),
]
