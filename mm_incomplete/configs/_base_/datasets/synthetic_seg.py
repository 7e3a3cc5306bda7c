# Synthetic RGB-D segmentation (9 classes, 64 x 64), generated on first use
# into `data_root` (relative to the working directory) from `seed`.
# Geometry classes need depth, appearance classes need RGB.
# The layout is declared once, in `modalities`; each dataset hands it to its
# pipeline's loading step. A child config that changes `modalities` must also
# override the datasets' (mmengine resolves variables at parse time).
modalities = dict(rgb=3, depth=1)
dataset_type = 'SyntheticRGBDSegDataset'
data_root = 'data/synthetic_rgbd_seg'
crop_size = (64, 64)  # (H, W)
train_pipeline = [
    dict(type='LoadMultiModalImages'),  # `modalities`: the dataset's
    dict(type='LoadMultiModalAnnotations'),
    dict(
        type='MultiModalRandomResize',
        scale=(64, 64),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='MultiModalRandomCrop', crop_size=crop_size),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='RGBPhotoMetricDistortion', brightness_delta=16,
         hue_delta=5),
    dict(type='MultiModalPad', size=crop_size),
    dict(type='PackMultiModalSegInputs'),
]
test_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='LoadMultiModalAnnotations'),
    dict(type='PackMultiModalSegInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        split='train',
        pipeline=train_pipeline))
# val and test: the training loader in order, on their split, test pipeline
val_dataloader = dict(
    train_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'], split='val', pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
