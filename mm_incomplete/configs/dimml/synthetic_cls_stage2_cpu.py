# DI-MML stage 2 on the synthetic RGB-D classification set, CPU size: the
# stage-1 model (synthetic_cls_cpu.py) with its encoders and unimodal heads
# frozen (eval mode, out of the optimizer) and loaded from `stage1_ckpt`,
# plus a concat-fusion linear head on the concatenated pooled features of
# both modalities, trained alone (FusionHeadLoss: CE over the samples with
# every modality; training sees full modalities). Inference: certainty-aware
# weighting over the present modalities' heads and, where every modality is
# present, the fusion head.
#   python tools/train.py configs/dimml/synthetic_cls_stage2_cpu.py \
#       --cfg-options \
#       model.stage1_ckpt=work_dirs/dimml/synthetic_cls_cpu/iter_600.pth
_base_ = ['./synthetic_cls_cpu.py']
stage1_ckpt = 'work_dirs/dimml/synthetic_cls_cpu/iter_600.pth'
# the release's stage 2: 20 epochs after 150 of stage 1, its stage-1 lr
# (SGD 1e-3) kept constant (StepLR at epoch 70 never fires); scaled to the
# CPU stage 1 (600 iterations, AdamW 2e-3): 600 * 20 / 150 = 80
# iterations, AdamW at the stage-1 lr, constant
max_iters = 80
model = dict(
    stage1_ckpt=stage1_ckpt,
    frozen_modules=['backbone', 'neck', 'head.heads'],
    head=dict(
        fusion_head=dict(
            type='LinearClsHead',
            num_classes={{_base_.num_classes}},
            in_channels=256,  # rgb's 128 + depth's 128 (checked)
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
            topk=(1, ))),
    method_losses=dict(_delete_=True, fusion=dict(type='FusionHeadLoss')))
custom_hooks = []  # no DUC split in stage 2
optim_wrapper = dict(
    constructor='TrainableParamsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = []
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
