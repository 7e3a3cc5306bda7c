# The deployed one-stage student on the synthetic RGB-D classification set,
# CPU size: the RGB encoder and a hallucination encoder that also reads RGB,
# CTN fusion after the stem and every stage (ESANet's feedback form), global
# pooling and a linear head on the fused deepest stage. RGB in; depth is
# never read.
_base_ = ['../baselines/multi_branch_full_synthetic_cls_cpu.py']
# the depth teacher's network (synthetic_cls_depth_teacher_cpu.py)
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
