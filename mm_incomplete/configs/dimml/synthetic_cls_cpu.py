# DI-MML stage 1 (detached training) on the synthetic RGB-D classification
# set, CPU size: the multi-branch baseline's two ResNet-18 branches (width
# 16) without fusion inside the encoder, one linear head per modality
# trained on its own modality only (UnimodalTaskLoss; the fused logits carry
# no loss), one linear head shared by both modalities (SharedHeadLoss, w = 1)
# and the DUC loss from `duc_begin` on (the split is computed there once on
# the training set by DUCSplitHook). Training sees full modalities, as in the
# paper. Inference: certainty-aware logit weighting of the present
# modalities' heads (softmax over heads of max-softmax / T, per sample).
_base_ = ['../baselines/multi_branch_full_synthetic_cls_cpu.py']
duc_begin = 200  # iteration; the release: epoch 20 of 150
feat_dim = 128  # last-stage channels of a width-16 ResNet-18
num_classes = {{_base_.num_classes}}
linear_head = dict(
    type='LinearClsHead',
    num_classes=num_classes,
    in_channels=feat_dim,
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    topk=(1, ))
model = dict(
    head=dict(
        _delete_=True,
        type='LateFusionHead',
        head=linear_head,
        decision=dict(type='CertaintyWeightedDecision', temperature=1.0),
        fused_loss=False),
    method_losses=dict(
        unimodal=dict(type='UnimodalTaskLoss'),
        shared=dict(type='SharedHeadLoss', head=linear_head, loss_weight=1.0),
        duc=dict(
            type='DUCLoss',
            feat_dim=feat_dim,
            temperature=50.0)))
custom_hooks = [dict(type='DUCSplitHook', begin=duc_begin)]
