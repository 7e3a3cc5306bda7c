# Multi-branch (ESANet-like) with ModDrop on the synthetic RGB-D
# classification set, CPU size: as multi_branch_full_synthetic_cls_cpu.py,
# but each training sample drops RGB and depth independently with
# probability 0.5 (redrawn if both are dropped).
_base_ = ['./multi_branch_full_synthetic_cls_cpu.py']
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(_delete_=True, type='ModDrop', drop_prob=0.5)))
