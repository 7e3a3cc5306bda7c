# MMANet teacher on the synthetic RGB-D segmentation set, CPU size: the
# multi-branch model trained on full modalities (the baseline config, so its
# checkpoint loads into the teacher of synthetic_seg_cpu.py). Train it first:
#   python tools/train.py configs/mmanet/synthetic_seg_teacher_cpu.py
_base_ = ['../baselines/multi_branch_full_synthetic_seg_cpu.py']
