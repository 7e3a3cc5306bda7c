# MMANet teacher on the synthetic RGB-D classification set, CPU size: the
# multi-branch classifier trained on full modalities (the baseline config).
#   python tools/train.py configs/mmanet/synthetic_cls_teacher_cpu.py
_base_ = ['../baselines/multi_branch_full_synthetic_cls_cpu.py']
