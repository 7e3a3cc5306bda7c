# Baseline for MMH on the synthetic classification set: the same teacher
# and ModDrop student, plain logit KD (Hinton, T = 2) instead of RAD/DAD:
#   L = CE + 0.4 T^2 KL(softmax(z_t / T) || softmax(z_s / T))
# (= RAD with the 1 x 1 region only, same weight).
_base_ = ['./synthetic_cls_cpu.py']
model = dict(
    student_recorders=dict(_delete_=True, logits='head.fc'),
    teacher_recorders=dict(_delete_=True, logits='head.fc'),
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(
            type='LogitKLDistillLoss', tau=2.0, loss_weight=0.4,
            inputs=dict(logits_s='student.logits',
                        logits_t='teacher.logits'))))
