# Multi-branch (ESANet-like) on NYUDv2 (40 classes) trained on full
# modalities only, the papers' setting: two ResNet-50 branches, 480 x 640,
# batch 8, SGD Nesterov lr 0.01, momentum 0.9, weight decay 1e-4, 300 epochs,
# one-cycle schedule. Missing modalities are masked only at test time.
_base_ = [
    '../_base_/datasets/nyud_rgbd.py', '../_base_/default_runtime_seg.py',
    '../_base_/schedules/nyud_onecycle_300e.py',
    '../_base_/models/multi_branch_r50_uper.py'
]
model = dict(
    data_preprocessor=dict(
        size={{_base_.crop_size}},
        # full modalities in every training sample
        train_sampler=dict(type='FixedCombination', combination=None)),
    decode_head=dict(num_classes={{_base_.num_classes}}))
