# DMRNet on SUN RGB-D (37 classes) in the NYUDv2 setting: two ImageNet-
# initialised ResNet-50 branches, ESANet's decoder (as dmrnet/nyud_rgbd.py),
# median-frequency class weights (_base_/datasets/sunrgbd_rgbd_paper.py),
# ESANet's augmentation, 480 x 640, batch 8, SGD Nesterov, one-cycle over
# 300 epochs.
# 5285 training images at batch 8 give 660 iterations per epoch; the
# regularizers start at epoch 11 (iteration 7260). Hard combination: depth.
_base_ = [
    '../_base_/datasets/sunrgbd_rgbd_paper.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/nyud_onecycle_300e.py',
    './_base_/dmrnet_r50_esanet.py'
]
num_classes = 37
hard_combinations = ['depth']
task_loss = dict(
    type='FileWeightedCrossEntropyLoss',
    class_weight_file={{_base_.class_weight_file}},
    avg_non_ignore=True,
    loss_weight=1.0)
sun_iters_per_epoch = 660
sun_max_iters = 300 * sun_iters_per_epoch
# the official DMRNet segmentation script clips the gradient norm at 20
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=20, norm_type=2))
model = dict(
    data_preprocessor=dict(
        modalities={{_base_.modalities}}, size={{_base_.crop_size}}),
    decode_head=dict(num_classes=num_classes, loss_decode=task_loss),
    method_losses=dict(
        hard_combination=dict(
            combinations=hard_combinations,
            head=dict(num_classes=num_classes,
                      loss_decode=dict(task_loss, loss_weight=0.5)))))
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=0.01,
        total_steps=sun_max_iters,
        pct_start=0.1,
        anneal_strategy='cos',
        div_factor=25,
        final_div_factor=1e4,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=sun_max_iters,
    val_interval=10 * sun_iters_per_epoch)
default_hooks = dict(checkpoint=dict(interval=10 * sun_iters_per_epoch))
custom_hooks = [
    dict(
        type='LossScaleWarmupHook',
        modules=['method_losses'],
        begin=11 * sun_iters_per_epoch),
]
