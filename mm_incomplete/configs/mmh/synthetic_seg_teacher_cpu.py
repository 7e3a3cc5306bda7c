# MMH teacher on the synthetic RGB-D segmentation set, CPU size: the
# multi-branch model trained on full modalities (= the baseline config, so
# the ModDrop baseline baselines/multi_branch_moddrop_synthetic_seg_cpu.py
# is the MMH student's network trained alone).
#   python tools/train.py configs/mmh/synthetic_seg_teacher_cpu.py
_base_ = ['../baselines/multi_branch_full_synthetic_seg_cpu.py']
