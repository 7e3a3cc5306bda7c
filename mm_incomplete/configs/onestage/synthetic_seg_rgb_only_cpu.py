# RGB-only baseline for one-stage distillation on the synthetic RGB-D
# segmentation set, CPU size: the deployed student's network
# (synthetic_seg_student_cpu.py: RGB encoder + a second encoder on RGB, CTN
# fusion, UPerHead; same size, same initialisation) trained with the task
# cross-entropy alone: no teacher, no transfer decoder, no JMMD, KD or
# reconstruction loss. Depth is never read; trained and evaluated on `rgb`.
# What one-stage distillation (synthetic_seg_cpu.py) adds is the difference:
#   python tools/train.py configs/onestage/synthetic_seg_rgb_only_cpu.py
_base_ = ['./synthetic_seg_student_cpu.py']
