# CASIA-SURF face anti-spoofing: rgb, depth, ir; 2 classes (spoof, live).
# Uses the official list files (color depth ir label per line) under
# data/casia_surf. Depth and IR are 8-bit images: both are of the `other`
# kind (decoded as 8-bit, bilinear interpolation, no photometric distortion;
# the depth here is a visualisation, not metres) and loaded as grey.
# The layout is declared once, in `modalities` (the string form keeps its
# order through a config dump); each dataset hands it to its pipeline's
# loading step. A child config that changes `modalities` must also override
# the datasets' (mmengine resolves variables at parse time).
modalities = 'rgb:3,depth:1:other,ir:1:other'
dataset_type = 'CASIASURFDataset'
data_root = 'data/casia_surf'
train_pipeline = [
    dict(type='LoadMultiModalImages', to_gray=('depth', 'ir')),
    dict(type='MultiModalResize', scale=(112, 112), keep_ratio=False),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='MultiModalRandomRotate', prob=0.5, degree=10),
    dict(type='RGBPhotoMetricDistortion'),
    dict(type='PackMultiModalClsInputs'),
]
test_pipeline = [
    dict(type='LoadMultiModalImages', to_gray=('depth', 'ir')),
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
# val and test: in order, their list files, test pipeline
val_dataloader = dict(
    train_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        ann_file='val_private_list.txt',
        pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='test_private_list.txt'))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
