# One-stage distillation teacher on the synthetic RGB-D segmentation set,
# CPU size: the multi-branch baseline network trained and evaluated on depth
# alone (the privileged modality P); its RGB branch never runs. 1600
# iterations: depth alone stays at chance (8.8 val mIoU, the floor class)
# after the 600 iterations of the other CPU configs (measured), and a chance
# teacher has nothing to transfer. Train it first:
#   python tools/train.py configs/onestage/synthetic_seg_depth_teacher_cpu.py
_base_ = ['../baselines/multi_branch_full_synthetic_seg_cpu.py']
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(
            _delete_=True, type='FixedCombination', combination='depth'),
        test_combination='depth'))
max_iters = 1600
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=False,
        begin=50,
        end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
val_cfg = dict(combinations='depth')
test_cfg = dict(combinations='depth')
