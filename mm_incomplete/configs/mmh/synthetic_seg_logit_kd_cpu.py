# Baseline for MMH on the synthetic segmentation set: the same teacher and
# ModDrop student, plain per-pixel logit KD (T = 2) instead of RAD/DAD:
#   L = L_ce + 0.4 T^2 mean_pixels KL(softmax(z_t / T) || softmax(z_s / T))
_base_ = ['./synthetic_seg_cpu.py']
model = dict(
    student_recorders=dict(_delete_=True, logits='decode_head.conv_seg'),
    teacher_recorders=dict(_delete_=True, logits='decode_head.conv_seg'),
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(
            type='LogitKLDistillLoss', tau=2.0, loss_weight=0.4,
            inputs=dict(logits_s='student.logits',
                        logits_t='teacher.logits'))))
