# NYU Depth v2, 40 classes, RGB-D; 795 train / 654 test (val = test, as in
# the papers). Paper setting: 480 x 640 input, batch 8.
# Layout: see NYUDv2Dataset (tools/dataset_converters/nyudv2.py writes it).
# The layout is declared once, in `modalities`; each dataset hands it to its
# pipeline's loading step. A child config that changes `modalities` must also
# override the datasets' (mmengine resolves variables at parse time).
modalities = dict(rgb=3, depth=1)
dataset_type = 'NYUDv2Dataset'
data_root = 'data/nyudv2'
num_classes = 40
crop_size = (480, 640)  # (H, W)
train_pipeline = [
    dict(type='LoadMultiModalImages'),  # `modalities`: the dataset's
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
    dict(type='LoadMultiModalImages'),
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
        num_classes=num_classes,
        split='train',
        pipeline=train_pipeline))
# val = test: one full-size frame at a time, in order, test split
val_dataloader = dict(
    train_dataloader,
    batch_size=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'], split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
