# Early fusion on NYUDv2 (40 classes), the papers' setting: one
# ImageNet-initialised ResNet-50 on the stacked RGB-D channels, ESANet's
# decoder with multi-scale supervision, median-frequency class weights,
# ESANet's augmentation, 480 x 640 input, batch 8, SGD Nesterov lr 0.01,
# momentum 0.9, weight decay 1e-4, 300 epochs, one-cycle schedule. Trained
# on full modalities; a missing modality is zeroed at test time.
_base_ = [
    '../_base_/datasets/nyud_rgbd_paper.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/nyud_onecycle_300e.py',
    '../_base_/models/early_fusion_r50_esanet.py'
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
