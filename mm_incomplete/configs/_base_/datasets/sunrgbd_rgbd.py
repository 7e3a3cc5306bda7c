# SUN RGB-D, 37 classes, RGB-D; 5285 train / 5050 test (val = test).
# Frames vary in size; they are resized to 480 x 640 like NYUDv2.
# Layout: see SUNRGBDDataset (tools/dataset_converters/sunrgbd.py writes it).
# Note: a child config that changes `modalities` must also override the
# pipelines' `modalities` (mmengine resolves variables at parse time).
modalities = dict(rgb=3, depth=1)
dataset_type = 'SUNRGBDDataset'
data_root = 'data/sunrgbd'
crop_size = (480, 640)  # (H, W)
train_pipeline = [
    dict(type='LoadMultiModalImages', modalities=modalities),
    dict(type='LoadMultiModalAnnotations'),
    dict(
        type='MultiModalRandomResize',
        scale=(640, 480),
        ratio_range=(0.5, 1.75),
        keep_ratio=True),
    dict(type='MultiModalRandomCrop', crop_size=crop_size,
         cat_max_ratio=0.75),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='RGBPhotoMetricDistortion'),
    dict(type='MultiModalPad', size=crop_size),
    dict(type='PackMultiModalSegInputs'),
]
test_pipeline = [
    dict(type='LoadMultiModalImages', modalities=modalities),
    dict(type='MultiModalResize', scale=(640, 480), keep_ratio=True),
    dict(type='LoadMultiModalAnnotations'),
    dict(type='PackMultiModalSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        split='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
