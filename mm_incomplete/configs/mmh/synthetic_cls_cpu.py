# MMH (multimodal hallucination) on the synthetic RGB-D classification set,
# CPU size (600 iterations). Teacher: synthetic_cls_teacher_cpu.py, frozen,
# sees rgb+depth. Student (the hallucination network): the same network on
# the incomplete input (ModDrop, p = 0.5 per modality; the privileged
# setting of the paper is `train_sampler=dict(type='FixedCombination',
# combination='rgb')`, as in casia_surf.py).
#   L = CE + 0.4 L_RAD (21 regions of the last-stage map, each classified
#       by the model's own fc, learned attention weights)
#         + 100 (L_DAD(stage 3) + L_DAD(stage 4))   (image relations)
#   python tools/train.py configs/mmh/synthetic_cls_teacher_cpu.py
#   python tools/train.py configs/mmh/synthetic_cls_cpu.py --cfg-options \
#       model.teacher_ckpt=work_dirs/synthetic_cls_teacher_cpu/iter_600.pth
_base_ = ['./synthetic_cls_moddrop_cpu.py']
student = {{_base_.model}}
teacher = {{_base_.model}}
rad = dict(type='RegionAwareDistillLoss', tau=2.0, grids=(4, 2, 1),
           weighting='attention', loss_weight=0.4)
dad = dict(type='DiscrepancyAwareDistillLoss', samples='image', knn=None,
           loss_weight=100.0)
model = dict(
    _delete_=True,
    type='ClsDistiller',
    student=student,
    teacher=teacher,
    teacher_ckpt='work_dirs/synthetic_cls_teacher_cpu/iter_600.pth',
    teacher_combination=None,  # the teacher sees every modality
    student_recorders=dict(
        stage3=dict(path='backbone', index=0),
        stage4=dict(path='backbone', index=1)),
    teacher_recorders=dict(
        stage3=dict(path='backbone', index=0),
        stage4=dict(path='backbone', index=1)),
    distill_losses=dict(
        loss_rad=dict(
            **rad,
            inputs=dict(map_s='student.stage4', map_t='teacher.stage4'),
            modules=dict(classifier_s='student.head.fc',
                         classifier_t='teacher.head.fc')),
        loss_dad_stage3=dict(
            **dad,
            inputs=dict(feat_s='student.stage3', feat_t='teacher.stage3')),
        loss_dad_stage4=dict(
            **dad,
            inputs=dict(feat_s='student.stage4', feat_t='teacher.stage4'))))
