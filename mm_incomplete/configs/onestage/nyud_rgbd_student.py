# The deployed one-stage student on NYUDv2 (40 classes): ResNet-50 RGB
# encoder and a ResNet-50 hallucination encoder that also reads RGB, CTN
# fusion after the stem and every stage in ESANet's feedback form, ESANet's
# decoder (context neck + head) as the fusion decoder; 480 x 640. RGB in;
# depth is never read.
_base_ = ['../baselines/multi_branch_full_nyud_rgbd.py']
# the depth teacher's network (nyud_rgbd_depth_teacher.py)
teacher_model = {{_base_.model}}
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(
            _delete_=True, type='FixedCombination', combination='rgb'),
        test_combination='rgb'),
    backbone=dict(
        feedback='rgb',
        branch_inputs=dict(depth='rgb'),
        fusion=dict(_delete_=True, type='CrossTranslationFusion')))
val_cfg = dict(combinations='rgb')
test_cfg = dict(combinations='rgb')
