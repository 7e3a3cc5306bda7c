# The joint-training comparison for DI-MML's modality-competition claim, on
# the synthetic RGB-D segmentation set, CPU size: the same late-fusion
# architecture as synthetic_seg_cpu.py (two width-16 ResNet-18 encoders, one
# UPerHead per modality) trained jointly: ONE cross-entropy on the per-pixel
# sum of both heads' logits (the release's joint form, a linear classifier
# on concatenated features, carried to segmentation), full modalities, no
# unimodal, shared-head or DUC losses, the same 600-iteration schedule.
# Evaluated under `rgb` / `depth`, the sum is exactly that modality's head:
# each head's mIoU after joint training, to compare with DI-MML stage 1's
# `rgb` / `depth` columns.
_base_ = ['./synthetic_seg_cpu.py']
model = dict(
    decode_head=dict(
        decision=dict(_delete_=True, type='SumDecision'), fused_loss=True),
    method_losses=dict(_delete_=True))
custom_hooks = []  # no DUC split
