# One-stage distillation teacher on the synthetic RGB-D segmentation set,
# CPU size: the multi-branch baseline network trained and evaluated on depth
# alone (the privileged modality P); its RGB branch never runs. The
# baseline's 600-iteration schedule, the comparison schedule: with the
# synthetic generator version 2 depth alone is learnt by then (seed 0: val
# depth mIoU 17.88, test 19.24, against 7.26 / 7.10 for the floor
# everywhere; configs/onestage/README.md). Train it first:
#   python tools/train.py configs/onestage/synthetic_seg_depth_teacher_cpu.py
_base_ = ['../baselines/multi_branch_full_synthetic_seg_cpu.py']
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(
            _delete_=True, type='FixedCombination', combination='depth'),
        test_combination='depth'))
val_cfg = dict(combinations='depth')
test_cfg = dict(combinations='depth')
