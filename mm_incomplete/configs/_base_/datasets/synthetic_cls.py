# Synthetic RGB-D classification (8 classes, one object per 64 x 64 image),
# generated on first use into `data_root` from `seed`.
# Note: a child config that changes `modalities` must also override the
# pipelines' `modalities` (mmengine resolves variables at parse time).
modalities = dict(rgb=3, depth=1)
dataset_type = 'SyntheticRGBDClsDataset'
data_root = 'data/synthetic_rgbd_cls'
train_pipeline = [
    dict(type='LoadMultiModalImages', modalities=modalities),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='RGBPhotoMetricDistortion', brightness_delta=16,
         hue_delta=5),
    dict(type='PackMultiModalClsInputs'),
]
test_pipeline = [
    dict(type='LoadMultiModalImages', modalities=modalities),
    dict(type='PackMultiModalClsInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,  # small PNGs; workers would compete with training
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=0,  # small PNGs; workers would compete with training
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        split='val',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=64,
    num_workers=0,  # small PNGs; workers would compete with training
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        split='test',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
