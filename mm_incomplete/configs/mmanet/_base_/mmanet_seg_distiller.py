# MMANet's teacher-student wiring for the ESANet-like segmentors (the
# baselines' multi-branch model with a UPerHead), shared by every MMANet
# segmentation config. A child puts these pieces into a SegDistiller next to
# its student/teacher (both the baseline model) and sizes the MAR head:
#   model = dict(_delete_=True, type='SegDistiller',
#                student={{_base_.model}}, teacher={{_base_.model}},
#                student_recorders={{_base_.mmanet_student_recorders}},
#                teacher_recorders={{_base_.mmanet_teacher_recorders}},
#                distill_losses={{_base_.mmanet_distill_losses}},
#                method_losses=dict(mar=...))
# - MAD at ESANet's context output and two skip levels: UPerHead's pyramid
#   pooling output (1/32) and the fused encoder features at 1/16 and 1/8,
#   pixels of maps pooled to at most 30 x 40, two similarity splits, 4.0;
# - MAR (the regularization network, a CombinationRegularizer method loss on
#   the student's fused features, `inputs='fused_feats'`) is the child's, as
#   its head is sized to the student;
# - both start with LossScaleWarmupHook(modules=mmanet_warmup_modules).
mmanet_student_recorders = dict(
    context='decode_head.bottleneck',
    skip16=dict(path='backbone', index=2),
    skip8=dict(path='backbone', index=1))
mmanet_teacher_recorders = dict(
    context='decode_head.bottleneck',
    skip16=dict(path='backbone', index=2),
    skip8=dict(path='backbone', index=1),
    logits='decode_head.conv_seg')
mmanet_mad = dict(type='MarginAwareDistillLoss', samples='pixel',
                  pool_size=(30, 40), num_splits=2, loss_weight=4.0)
mmanet_distill_losses = dict(
    loss_mad_context=dict(
        **mmanet_mad,
        inputs=dict(feat_s='student.context', feat_t='teacher.context',
                    logits_t='teacher.logits')),
    loss_mad_skip16=dict(
        **mmanet_mad,
        inputs=dict(feat_s='student.skip16', feat_t='teacher.skip16',
                    logits_t='teacher.logits')),
    loss_mad_skip8=dict(
        **mmanet_mad,
        inputs=dict(feat_s='student.skip8', feat_t='teacher.skip8',
                    logits_t='teacher.logits')))
mmanet_warmup_modules = ['method_losses', 'distill_losses']
