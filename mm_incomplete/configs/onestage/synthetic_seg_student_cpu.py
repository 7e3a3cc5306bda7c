# The deployed one-stage student on the synthetic RGB-D segmentation set,
# CPU size (its architecture; train it with synthetic_seg_cpu.py, test it
# with this config and the exported student checkpoint). Two width-16
# ResNet-18 branches: the RGB encoder and a hallucination encoder that also
# reads RGB (branch_inputs), fused by the cross translation network (CTN)
# after the stem and every stage in ESANet's feedback form (the fused
# feature is the RGB encoder's next input); UPerHead is the fusion decoder.
# Its input is RGB alone: depth, present or not, is never read.
_base_ = ['../baselines/multi_branch_full_synthetic_seg_cpu.py']
# the depth teacher's network (synthetic_seg_depth_teacher_cpu.py)
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
