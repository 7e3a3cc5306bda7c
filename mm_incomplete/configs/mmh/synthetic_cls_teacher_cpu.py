# MMH teacher on the synthetic RGB-D classification set, CPU size: the
# multi-branch classifier trained on full modalities, with two changes to
# the baseline that MMH needs (and that synthetic_cls_cpu.py and the
# baselines of this folder share, so every run compares one network):
# - the last stage keeps stride 1: the 64 x 64 images give a 4 x 4 last
#   map, so RAD's 4 x 4 regions are distinct cells (a 2 x 2 map would
#   repeat them; the loss refuses maps smaller than its finest grid);
# - the fused stage-3 and stage-4 features are output (DAD compares both;
#   the head reads the last).
#   python tools/train.py configs/mmh/synthetic_cls_teacher_cpu.py
_base_ = ['../baselines/multi_branch_full_synthetic_cls_cpu.py']
model = dict(backbone=dict(strides=(1, 2, 2, 1), out_indices=(2, 3)))
