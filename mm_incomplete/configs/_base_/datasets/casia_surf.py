# CASIA-SURF face anti-spoofing: rgb, depth, ir; 2 classes (spoof, live).
# Uses the official list files (color depth ir label per line) under
# data/casia_surf; depth and IR are 8-bit images, loaded as grey.
# Note: a child config that changes `modalities` must also override the
# pipelines' `modalities` (mmengine resolves variables at parse time).
modalities = dict(rgb=3, depth=1, ir=1)
dataset_type = 'CASIASURFDataset'
data_root = 'data/casia_surf'
train_pipeline = [
    dict(
        type='LoadMultiModalImages',
        modalities=modalities,
        depth_modalities=(),
        to_gray=('depth', 'ir')),
    dict(type='MultiModalResize', scale=(112, 112), keep_ratio=False),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='MultiModalRandomRotate', prob=0.5, degree=10),
    dict(type='RGBPhotoMetricDistortion'),
    dict(type='PackMultiModalClsInputs'),
]
test_pipeline = [
    dict(
        type='LoadMultiModalImages',
        modalities=modalities,
        depth_modalities=(),
        to_gray=('depth', 'ir')),
    dict(type='MultiModalResize', scale=(112, 112), keep_ratio=False),
    dict(type='PackMultiModalClsInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        ann_file='train_list.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        ann_file='val_private_list.txt',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        ann_file='test_private_list.txt',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
