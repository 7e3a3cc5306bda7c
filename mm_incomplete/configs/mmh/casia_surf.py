# MMH on CASIA-SURF, the paper's privileged setting: the teacher
# (casia_surf_teacher.py, frozen) sees rgb + depth + ir; the hallucination
# network (student) sees RGB only (FixedCombination 'rgb'; for the
# incomplete setting use train_sampler=dict(type='ModDrop', drop_prob=0.5)).
# Same network, 112 x 112, schedule of the teacher (SGD Nesterov 1e-3,
# batch 64, 50 epochs, steps 8/16/25, 5-epoch warm-up).
#   L = CE + 0.4 L_RAD (21 regions of the 4 x 4 last-stage map, each
#       classified by the model's own fc, T = 2, learned attention)
#         + 100 (L_DAD(stage 3) + L_DAD(stage 4))   (image relations)
# The release logs RAD and DAD separately (README: reference accuracies);
# casia_surf_rad.py / casia_surf_dad.py keep one of them.
#   python tools/train.py configs/mmh/casia_surf.py --cfg-options \
#       model.teacher_ckpt=work_dirs/casia_surf_teacher/best_*.pth
_base_ = ['./casia_surf_rgb.py']
student = {{_base_.model}}  # RGB only in training
teacher = {{_base_.model}}  # its own sampler never runs: the full view
model = dict(
    _delete_=True,
    type='ClsDistiller',
    student=student,
    teacher=teacher,
    teacher_ckpt='work_dirs/casia_surf_teacher/epoch_50.pth',
    teacher_combination=None,  # rgb + depth + ir
    student_recorders=dict(
        stage3=dict(path='backbone', index=0),
        stage4=dict(path='backbone', index=1)),
    teacher_recorders=dict(
        stage3=dict(path='backbone', index=0),
        stage4=dict(path='backbone', index=1)),
    distill_losses=dict(
        loss_rad=dict(
            type='RegionAwareDistillLoss', tau=2.0, grids=(4, 2, 1),
            weighting='attention', loss_weight=0.4,
            inputs=dict(map_s='student.stage4', map_t='teacher.stage4'),
            modules=dict(classifier_s='student.head.fc',
                         classifier_t='teacher.head.fc')),
        loss_dad_stage3=dict(
            type='DiscrepancyAwareDistillLoss', samples='image',
            loss_weight=100.0,
            inputs=dict(feat_s='student.stage3', feat_t='teacher.stage3')),
        loss_dad_stage4=dict(
            type='DiscrepancyAwareDistillLoss', samples='image',
            loss_weight=100.0,
            inputs=dict(feat_s='student.stage4', feat_t='teacher.stage4'))))
