# DMRNet on the synthetic RGB-D classification set, CPU size. Two ResNet-18
# branches of width 16, global pooling, the probabilistic embedding on the
# pooled fused vector (as the official audio-visual code). Each training
# sample draws one of the 3 combinations uniformly. The KL term (1e-3) is on
# from the start; the hard combination is mined over iterations [0, 100)
# (largest mean embedding variance), then the auxiliary classifier
# (weight 0.3) trains on its samples.
_base_ = [
    '../_base_/datasets/synthetic_cls.py', '../_base_/default_runtime_cls.py',
    '../_base_/schedules/cpu_cls_600it.py'
]
num_classes = 8
width = 16
feat_channels = width * 8  # last stage of ResNet-18
hard_combinations = None  # mined; or fix it, e.g. ['depth']
mining_window = (0, 100)  # iterations [begin, end)

model = dict(
    type='DMRNetImageClassifier',
    data_preprocessor=dict(
        type='MultiModalClsDataPreProcessor',
        modalities={{_base_.modalities}},
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.8]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[1.4]),
        train_sampler=dict(type='UniformCombinations')),
    backbone=dict(
        type='MultiBranchResNet',
        modalities={{_base_.modalities}},
        depth=18,
        base_channels=width,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    probabilistic_embedding=dict(
        type='ProbabilisticEmbedding', in_channels=feat_channels),
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=feat_channels,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    aux_head=dict(
        type='CombinationRegularizerClsHead',
        modalities={{_base_.modalities}},
        combinations=hard_combinations,
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=feat_channels,
            loss=dict(type='CrossEntropyLoss', loss_weight=0.3))),
    kl_loss=dict(type='GaussianKLLoss', loss_weight=1e-3))
custom_hooks = [
    dict(
        type='CombinationMiningHook',
        begin=mining_window[0],
        end=mining_window[1]),
    dict(
        type='LossScaleWarmupHook',
        modules=['aux_head'],
        begin=mining_window[1]),
]
