# MMH on NYUDv2 (40 classes). Teacher: nyud_rgbd_teacher.py, frozen, on
# full RGB-D. Student: the same network on the incomplete input (ModDrop);
# the papers' 300-epoch schedule.
# RAD on the decode head's logits (ESANet's output conv, 1/4, 120 x 160,
# before its two learned x2 upsamplings) pooled into 21 regions, learned
# attention weights; DAD with pixels as samples at the fused 1/16
# (30 x 40) and 1/32 (15 x 20) encoder features:
#   L = L_ce + 0.4 L_RAD + 100 (L_DAD(stage 3) + L_DAD(stage 4))
_base_ = ['../baselines/multi_branch_moddrop_nyud_rgbd.py']
student = {{_base_.model}}
teacher = {{_base_.model}}
rad = dict(type='RegionAwareDistillLoss', tau=2.0, grids=(4, 2, 1),
           weighting='attention', loss_weight=0.4)
dad = dict(type='DiscrepancyAwareDistillLoss', samples='pixel',
           pool_size=(30, 40), knn=None, loss_weight=100.0)
model = dict(
    _delete_=True,
    type='SegDistiller',
    student=student,
    teacher=teacher,
    teacher_ckpt='work_dirs/nyud_rgbd_teacher/iter_30000.pth',
    teacher_combination=None,
    student_recorders=dict(
        logits='decode_head.conv_seg',
        stage3=dict(path='backbone', index=2),
        stage4=dict(path='backbone', index=3)),
    teacher_recorders=dict(
        logits='decode_head.conv_seg',
        # what the classifier (conv_seg) reads: ESANet's last decoder
        # module's output (upsampled + the 1/4 skip, 128 channels, 1/4), the
        # 'strength' weighting's map (UPerHead's fpn_bottleneck)
        head_feats=dict(path='decode_head.decoder.2', index=0),
        stage3=dict(path='backbone', index=2),
        stage4=dict(path='backbone', index=3)),
    distill_losses=dict(
        loss_rad=dict(
            **rad,
            inputs=dict(map_s='student.logits', map_t='teacher.logits')),
        loss_dad_stage3=dict(
            **dad,
            inputs=dict(feat_s='student.stage3', feat_t='teacher.stage3')),
        loss_dad_stage4=dict(
            **dad,
            inputs=dict(feat_s='student.stage4', feat_t='teacher.stage4'))))
