# DMRNet on the synthetic RGB-D classification set, CPU size: the ModDrop
# baseline (baselines/multi_branch_moddrop_synthetic_cls_cpu.py: two
# ResNet-18 branches of width 16, global pooling, linear head) plus DMRNet's
# plug-ins: the probabilistic embedding of the pooled fused vector (as the
# official audio-visual code; the last neck), the KL term (1e-3, from the
# start) and a second linear head on the hard combination (0.3). The hard
# combination is mined over iterations [0, 100) (largest mean embedding
# variance; set `hard_combinations = ['depth']` to fix it); the auxiliary
# head starts at iteration 100.
_base_ = ['../baselines/multi_branch_moddrop_synthetic_cls_cpu.py']
hard_combinations = None
mining_window = (0, 100)  # iterations [begin, end)
feat_channels = 128  # last stage of the baseline's width-16 ResNet-18
model = dict(
    neck=dict(
        _delete_=True,
        type='SequentialNeck',
        necks=[
            dict(type='GlobalAveragePooling'),
            dict(type='ProbabilisticEmbeddingNeck',
                 in_channels=[feat_channels], in_index=-1)
        ]),
    method_losses=dict(
        hard_combination=dict(
            type='CombinationRegularizer',
            combinations=hard_combinations,
            inputs='neck_feats',
            prefix='aux',
            mining_score='embedding_variance',
            head=dict(
                type='LinearClsHead',
                num_classes={{_base_.num_classes}},
                in_channels=feat_channels,
                loss=dict(type='CrossEntropyLoss', loss_weight=0.3))),
        kl=dict(type='ProbabilisticEmbeddingKL', loss_weight=1e-3)))
custom_hooks = [
    dict(
        type='CombinationMiningHook',
        begin=mining_window[0],
        end=mining_window[1]),
    dict(
        type='LossScaleWarmupHook',
        modules=['method_losses.hard_combination'],
        begin=mining_window[1]),
]
