# One-stage modality distillation on the synthetic RGB-D classification set,
# CPU size (600 iterations). Student: synthetic_cls_student_cpu.py; teacher:
# the depth-only classifier (synthetic_cls_depth_teacher_cpu.py), frozen.
# Training only: the transfer decoder (global pooling + linear head on the
# hallucination encoder) inside loss_transfer. MMD samples: one row per
# image; JMMD layers: stages 2 and 3 (pooled), the pooled deepest stage
# (the decoder's context) and the softmax predictions.
#   L = CE + 1.0 KD + 0.01 JMMD + 1.0 mean CTN reconstruction error
# (weights: see configs/onestage/README.md)
#   python tools/train.py configs/onestage/synthetic_cls_cpu.py
_base_ = ['./synthetic_cls_student_cpu.py']
student = {{_base_.model}}
teacher = {{_base_.teacher_model}}
hall = 'backbone.branches.depth'  # the hallucination encoder
model = dict(
    _delete_=True,
    type='ClsDistiller',
    student=student,
    teacher=teacher,
    teacher_ckpt='work_dirs/synthetic_cls_depth_teacher_cpu/iter_600.pth',
    teacher_combination='depth',
    student_recorders=dict(
        hall1=hall + '.layer1', hall2=hall + '.layer2',
        hall3=hall + '.layer3', hall4=hall + '.layer4',
        rec_stem='backbone.fusions.stem.reconstruction',
        rec1='backbone.fusions.layer1.reconstruction',
        rec2='backbone.fusions.layer2.reconstruction',
        rec3='backbone.fusions.layer3.reconstruction',
        rec4='backbone.fusions.layer4.reconstruction'),
    teacher_recorders=dict(
        stage2='backbone.branches.depth.layer2',
        stage3='backbone.branches.depth.layer3',
        context=dict(path='neck', index=-1),
        logits='head.fc'),
    distill_losses=dict(
        loss_transfer=dict(
            type='ModalityTransferLoss',
            decoder=dict(neck={{_base_.model.neck}},
                         head={{_base_.model.head}}),
            context=dict(path='neck', index=-1),
            jmmd_stages=(1, 2),
            kd=dict(type='LogitKLDistillLoss', tau=1.0, loss_weight=1.0),
            jmmd=dict(type='JointMMDLoss', samples='image', loss_weight=0.01),
            inputs=dict(
                hall_feats=['student.hall1', 'student.hall2',
                            'student.hall3', 'student.hall4'],
                teacher_feats=['teacher.stage2', 'teacher.stage3'],
                context_t='teacher.context',
                logits_t='teacher.logits')),
        loss_ctn_rec=dict(
            type='CrossTranslationReconstructionLoss',
            loss_weight=1.0,
            inputs=dict(errors=['student.rec_stem', 'student.rec1',
                                'student.rec2', 'student.rec3',
                                'student.rec4']))))
