# MMANet on the synthetic RGB-D classification set, CPU size (600 iters).
# Student: the ModDrop multi-branch classifier; teacher: the full-modality
# one (synthetic_cls_teacher_cpu.py). As in the official classification
# code, MAD compares images (rows of the flattened last-stage map, one
# similarity block) and the regularization network is a second classifier
# trained on the weak combination's samples:
#   L = CE + 30 L_MAD + 0.5 L_aux
#   python tools/train.py configs/mmanet/synthetic_cls_cpu.py \
#       --cfg-options model.teacher_ckpt=work_dirs/mmanet/synthetic_cls_teacher_cpu/iter_600.pth
_base_ = [
    '../baselines/multi_branch_moddrop_synthetic_cls_cpu.py',
    './_base_/mmanet_cls_distiller.py'
]
student = {{_base_.model}}
teacher = {{_base_.model}}
width = 16
num_classes = 8
mining_begin, mining_end = 100, 200
mmanet_begin = 200
model = dict(
    _delete_=True,
    type='ClsDistiller',
    student=student,
    teacher=teacher,
    teacher_ckpt='work_dirs/mmanet/synthetic_cls_teacher_cpu/iter_600.pth',
    teacher_combination=None,
    student_recorders={{_base_.mmanet_student_recorders}},
    teacher_recorders={{_base_.mmanet_teacher_recorders}},
    distill_losses={{_base_.mmanet_distill_losses}},
    method_losses=dict(
        mar=dict(
            type='CombinationRegularizer',
            combinations=None,  # mined by WeakCombinationMiningHook
            inputs='neck_feats',  # the pooled fused vector
            prefix='mar',
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=8 * width,
                loss=dict(type='CrossEntropyLoss', loss_weight=0.5)))))
# mmengine switches interval when the *next* iteration (runner.iter + 1)
# reaches a milestone: validations at mining_begin, ..., mining_end
train_cfg = dict(dynamic_intervals=[(mining_begin, 50),
                                    (mining_end + 2, 600)])
custom_hooks = [
    dict(type='WeakCombinationMiningHook', metric='accuracy/top1',
         begin=mining_begin, end=mining_end),
    dict(type='LossScaleWarmupHook',
         modules={{_base_.mmanet_warmup_modules}}, begin=mmanet_begin),
]
