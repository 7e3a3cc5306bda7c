# Synthetic RGB-D classification (8 classes, one object per 64 x 64 image),
# generated on first use into `data_root` from `seed`.
# The layout is declared once, in `modalities`; each dataset hands it to its
# pipeline's loading step. A child config that changes `modalities` must also
# override the datasets' (mmengine resolves variables at parse time).
modalities = dict(rgb=3, depth=1)
dataset_type = 'SyntheticRGBDClsDataset'
data_root = 'data/synthetic_rgbd_cls'
train_pipeline = [
    dict(type='LoadMultiModalImages'),  # `modalities`: the dataset's
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='RGBPhotoMetricDistortion', brightness_delta=16,
         hue_delta=5),
    dict(type='PackMultiModalClsInputs'),
]
test_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='PackMultiModalClsInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        split='train',
        pipeline=train_pipeline))
# val and test: batches of 64 in order, on their split, test pipeline
val_dataloader = dict(
    train_dataloader,
    batch_size=64,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'], split='val', pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
