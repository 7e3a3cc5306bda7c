# Multi-branch (ESANet-like) with ModDrop on NYUDv2 (40 classes): each
# training sample drops RGB and depth independently with probability 0.5
# (redrawn if both are dropped, so rgb+depth, rgb and depth each have 1/3).
# The papers' setting: two ResNet-50 branches, 480 x 640, batch 8, SGD
# Nesterov lr 0.01, momentum 0.9, weight decay 1e-4, 300 epochs, one-cycle.
_base_ = ['./multi_branch_full_nyud_rgbd.py']
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(_delete_=True, type='ModDrop', drop_prob=0.5)))
