# MMH teacher on NYUDv2 (40 classes): the multi-branch ESANet-like model
# (two ResNet-50 branches, ESANet's decoder) trained on full RGB-D, 480 x 640,
# batch 8, SGD Nesterov lr 0.01, 300 epochs one-cycle (= the baseline).
_base_ = ['../baselines/multi_branch_full_nyud_rgbd.py']
