# Multi-branch RGB-D classifier: one ResNet-50 per modality with masked
# squeeze-and-excitation fusion (only the deepest stage is fused and output),
# global average pooling and a linear head. Trains from scratch. Child
# configs set the classes (head.num_classes) and the `train_sampler`.
# The modality layout: a child that adds a dataset base gives the dataset
# base's `modalities` to `data_preprocessor.modalities`; the model hands it
# to the backbone and every other part that takes one.
model = dict(
    type='MultiModalImageClassifier',
    data_preprocessor=dict(
        type='MultiModalClsDataPreProcessor',
        mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.842]),
        std=dict(rgb=[58.395, 57.12, 57.375], depth=[1.417]),
        test_combination=None),
    backbone=dict(
        type='MultiBranchResNet',
        depth=50,
        base_channels=64,
        out_indices=(3, ),
        fusion=dict(type='SqueezeExciteFusion', reduction=16, reduce='mean'),
        feedback=None),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=19,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
