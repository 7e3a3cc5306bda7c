# DI-MML stage 1 (detached training) on the synthetic RGB-D segmentation
# set, CPU size: the late-fusion baseline's two ResNet-18 branches (width
# 16) and one UPerHead per modality, each trained on its own modality only
# (UnimodalTaskLoss; the fused logits carry no loss), one UPerHead shared by
# both modalities (SharedHeadLoss, w = 1) and the DUC loss on up to 1024
# labelled last-stage pixels per batch from `duc_begin` on (split computed
# there once on the training set by DUCSplitHook). Training sees full
# modalities; inference weighs the present modalities' logits per pixel by
# their certainty.
_base_ = ['../baselines/late_fusion_moddrop_synthetic_seg_cpu.py']
duc_begin = 200  # iteration
feat_dim = 128  # last-stage channels of a width-16 ResNet-18
model = dict(
    data_preprocessor=dict(
        train_sampler=dict(
            _delete_=True, type='FixedCombination', combination=None)),
    decode_head=dict(
        decision=dict(
            _delete_=True, type='CertaintyWeightedDecision', temperature=1.0),
        fused_loss=False),
    method_losses=dict(
        unimodal=dict(type='UnimodalTaskLoss'),
        shared=dict(
            type='SharedHeadLoss',
            head={{_base_.model.decode_head.head}},
            loss_weight=1.0),
        duc=dict(
            type='DUCLoss',
            feat_dim=feat_dim,
            temperature=50.0,
            max_pixels=1024)))
custom_hooks = [dict(type='DUCSplitHook', begin=duc_begin)]
