# MMANet's teacher-student wiring for the multi-branch classifiers. As in the
# official classification code, MAD compares images (rows of the flattened
# last-stage map, one similarity block, weight 30); the regularization
# network (MAR) is a second classifier on the pooled fused vector, a
# CombinationRegularizer method loss of the child (sized to the student).
mmanet_student_recorders = dict(last_stage=dict(path='backbone', index=-1))
mmanet_teacher_recorders = dict(
    last_stage=dict(path='backbone', index=-1), logits='head.fc')
mmanet_distill_losses = dict(
    loss_mad=dict(
        type='MarginAwareDistillLoss', samples='image', num_splits=1,
        loss_weight=30.0,
        inputs=dict(feat_s='student.last_stage', feat_t='teacher.last_stage',
                    logits_t='teacher.logits')))
mmanet_warmup_modules = ['method_losses', 'distill_losses']
