# DMRNet segmentation model of the papers' NYUDv2 / SUN RGB-D setting, laid
# out as the official code (segmentation/src/models/model.py,
# ESANet_DUL_Auxi), as plug-ins on the multi-branch model of the baselines
# (two ImageNet-initialised ResNet-50 branches, masked SE fusion at every
# stage, ESANet's decoder):
# - neck: ESANet's context neck, then the probabilistic embedding of its
#   context-module output (512 channels at 1/32: the official
#   `context_tranfer`), i.e. before the decoders; the skips pass unchanged;
# - method_losses.hard_combination: a second ESANet decoder (the official
#   `auxi_decoder`) on the same neck outputs (embedded context, projected
#   skips), trained on the hard combination's samples only (weight 0.5,
#   times the sum of its four scales);
# - method_losses.kl: the KL term (weight 1e-3).
# Every training sample drops RGB and depth independently with probability
# 0.5, redrawn if both are dropped: the 3 combinations have 1/3 each.
# Child configs set the classes (decode_head.num_classes and
# method_losses.hard_combination.head.num_classes), the task loss, the
# preprocessor's `size` and the warm-up of the two terms. The UPerHead
# option is ./dmrnet_r50_uper.py.
_base_ = ['../../_base_/models/multi_branch_r50_esanet.py']
model = dict(
    type='MultiModalEncoderDecoder',
    data_preprocessor=dict(
        train_sampler=dict(type='ModDrop', drop_prob=0.5)),
    neck=dict(
        _delete_=True,
        type='SequentialNeck',
        necks=[
            {{_base_.model.neck}},
            dict(type='ProbabilisticEmbeddingNeck',
                 in_channels=[128, 256, 512, 512],
                 in_index=-1)
        ]),
    method_losses=dict(
        hard_combination=dict(
            type='CombinationRegularizer',
            combinations=['depth'],
            inputs='neck_feats',
            prefix='aux',
            mining_score='embedding_variance',
            head={{_base_.model.decode_head}}),
        kl=dict(type='ProbabilisticEmbeddingKL', loss_weight=1e-3)))
