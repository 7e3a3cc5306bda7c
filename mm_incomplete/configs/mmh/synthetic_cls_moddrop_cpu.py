# Baseline for MMH on the synthetic classification set: the MMH student's
# network (last stage stride 1, stages 3-4 output) trained alone with
# ModDrop (p = 0.5 per modality), no teacher.
_base_ = ['./synthetic_cls_teacher_cpu.py']
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(_delete_=True, type='ModDrop', drop_prob=0.5)))
