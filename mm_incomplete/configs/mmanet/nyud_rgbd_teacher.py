# MMANet teacher on NYUDv2 (40 classes): the multi-branch ESANet-like model
# (two ImageNet-initialised ResNet-50 branches, ESANet's decoder) trained on
# full RGB-D in the papers' setting (480 x 640, batch 8, SGD Nesterov lr
# 0.01, 300 epochs, one-cycle).
_base_ = ['../baselines/multi_branch_full_nyud_rgbd.py']
