# Multi-branch (ESANet-like) on NYUDv2 (40 classes) trained on full
# modalities only, the papers' setting: two ImageNet-initialised ResNet-50
# branches, ESANet's decoder with multi-scale supervision, median-frequency
# class weights, ESANet's augmentation, 480 x 640, batch 8, SGD Nesterov
# lr 0.01, momentum 0.9, weight decay 1e-4, 300 epochs, one-cycle schedule.
# Missing modalities are masked only at test time. Before training: the
# class weights (see _base_/datasets/nyud_rgbd_paper.py) and, offline, the
# ImageNet file (see _base_/models/multi_branch_r50_esanet.py).
_base_ = [
    '../_base_/datasets/nyud_rgbd_paper.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/nyud_onecycle_300e.py',
    '../_base_/models/multi_branch_r50_esanet.py'
]
task_loss = dict(
    type='FileWeightedCrossEntropyLoss',
    class_weight_file={{_base_.class_weight_file}},
    avg_non_ignore=True,
    loss_weight=1.0)
model = dict(
    data_preprocessor=dict(
        modalities={{_base_.modalities}},
        size={{_base_.crop_size}},
        # full modalities in every training sample
        train_sampler=dict(type='FixedCombination', combination=None)),
    decode_head=dict(num_classes={{_base_.num_classes}},
                     loss_decode=task_loss))
