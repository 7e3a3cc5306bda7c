# DMRNet on NYUDv2 (40 classes), the papers' setting: two ImageNet-
# initialised ResNet-50 branches, ESANet's decoder with multi-scale
# supervision (the embedding after its context module, a second decoder as
# the hard-combination regularizer), median-frequency class weights,
# ESANet's augmentation, 480 x 640 input, batch 8, SGD Nesterov lr 0.01,
# momentum 0.9, weight decay 1e-4, 300 epochs of 100 iterations, one-cycle.
# Before training: the class weights (_base_/datasets/nyud_rgbd_paper.py)
# and, offline, the ImageNet file (_base_/models/multi_branch_r50_esanet.py).
# Hard combination: depth (fixed); the KL term (1e-3) and the
# hard-combination decoder (0.5) start at epoch 11 (official: `epoch > 10`),
# i.e. iteration 1100.
# Reference (authors' log): mIoU RGB 43.36, depth 41.26, RGB-D 49.03,
# average 44.55.
_base_ = [
    '../_base_/datasets/nyud_rgbd_paper.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/nyud_onecycle_300e.py',
    './_base_/dmrnet_r50_esanet.py'
]
hard_combinations = ['depth']
task_loss = dict(
    type='FileWeightedCrossEntropyLoss',
    class_weight_file={{_base_.class_weight_file}},
    avg_non_ignore=True,
    loss_weight=1.0)
# the official DMRNet segmentation script clips the gradient norm at 20
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=20, norm_type=2))
model = dict(
    data_preprocessor=dict(
        modalities={{_base_.modalities}}, size={{_base_.crop_size}}),
    decode_head=dict(num_classes={{_base_.num_classes}},
                     loss_decode=task_loss),
    method_losses=dict(
        hard_combination=dict(
            combinations=hard_combinations,
            head=dict(num_classes={{_base_.num_classes}},
                      loss_decode=dict(task_loss, loss_weight=0.5)))))
custom_hooks = [
    dict(
        type='LossScaleWarmupHook',
        modules=['method_losses'],
        begin=1100),  # epoch 11 x 100 iterations
]
