# One-stage distillation teacher on the synthetic RGB-D classification set,
# CPU size: the multi-branch baseline classifier trained and evaluated on
# depth alone; its RGB branch never runs. Train it first:
#   python tools/train.py configs/onestage/synthetic_cls_depth_teacher_cpu.py
_base_ = ['../baselines/multi_branch_full_synthetic_cls_cpu.py']
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(
            _delete_=True, type='FixedCombination', combination='depth'),
        test_combination='depth'))
val_cfg = dict(combinations='depth')
test_cfg = dict(combinations='depth')
