# One-stage distillation teacher on NYUDv2 (40 classes): the multi-branch
# network (two ResNet-50 branches, ESANet's decoder) trained and evaluated
# on depth alone in the papers' setting (480 x 640, batch 8, SGD Nesterov
# lr 0.01, 300 epochs, one-cycle); its RGB branch never runs.
_base_ = ['../baselines/multi_branch_full_nyud_rgbd.py']
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(
            _delete_=True, type='FixedCombination', combination='depth'),
        test_combination='depth'))
val_cfg = dict(combinations='depth')
test_cfg = dict(combinations='depth')
