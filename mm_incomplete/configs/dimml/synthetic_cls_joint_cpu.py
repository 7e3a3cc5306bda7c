# The joint-training comparison for DI-MML's modality-competition claim, on
# the synthetic RGB-D classification set, CPU size: the same late-fusion
# architecture as synthetic_cls_cpu.py (two width-16 ResNet-18 encoders, one
# linear head per modality) trained jointly, as the release's
# main_joint_training.py: ONE cross-entropy on the summed logits of both
# heads (= a linear classifier on the concatenated features, W [f_rgb;
# f_depth] + b), full modalities, no unimodal, shared-head or DUC losses,
# the same 600-iteration schedule. Evaluated under `rgb` / `depth`, the sum
# is exactly that modality's head: each head's accuracy after joint
# training, to compare with DI-MML stage 1's `rgb` / `depth` columns.
_base_ = ['./synthetic_cls_cpu.py']
model = dict(
    head=dict(
        decision=dict(_delete_=True, type='SumDecision'), fused_loss=True),
    method_losses=dict(_delete_=True))
custom_hooks = []  # no DUC split
