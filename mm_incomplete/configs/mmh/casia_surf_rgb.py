# Baseline for MMH on CASIA-SURF, privileged setting: the MMH student's
# network trained alone on RGB only (FixedCombination 'rgb'), no teacher.
_base_ = ['./casia_surf_teacher.py']
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(_delete_=True, type='FixedCombination',
                           combination='rgb')))
