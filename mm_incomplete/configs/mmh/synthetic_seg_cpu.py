# MMH (multimodal hallucination) on the synthetic RGB-D segmentation set,
# CPU size (600 iterations). Teacher: synthetic_seg_teacher_cpu.py, frozen,
# sees rgb+depth. Student: the same network on the incomplete input
# (ModDrop, p = 0.5 per modality).
# RAD: the decode head's logits (1/4 resolution) pooled into 21 regions
# (for a linear classifier, pooling logits = classifying pooled features),
# learned attention weights. DAD: pixels as samples (pooled to at most
# 30 x 40) at the fused 1/16 and 1/32 encoder features.
#   L = L_ce + 0.4 L_RAD + 100 (L_DAD(stage 3) + L_DAD(stage 4))
#   python tools/train.py configs/mmh/synthetic_seg_teacher_cpu.py
#   python tools/train.py configs/mmh/synthetic_seg_cpu.py --cfg-options \
#       model.teacher_ckpt=work_dirs/synthetic_seg_teacher_cpu/iter_600.pth
_base_ = ['../baselines/multi_branch_moddrop_synthetic_seg_cpu.py']
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
    teacher_ckpt='work_dirs/synthetic_seg_teacher_cpu/iter_600.pth',
    teacher_combination=None,  # the teacher sees rgb+depth
    student_recorders=dict(
        logits='decode_head.conv_seg',
        stage3=dict(path='backbone', index=2),
        stage4=dict(path='backbone', index=3)),
    teacher_recorders=dict(
        logits='decode_head.conv_seg',
        # what the classifier reads: the 'strength' weighting's map
        head_feats='decode_head.fpn_bottleneck',
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
