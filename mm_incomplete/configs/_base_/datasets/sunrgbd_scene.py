# SUN RGB-D scene classification, 19 classes, RGB-D.
# Annotation files data/sunrgbd/scene_{train,test}.txt, one line per frame:
#   rgb/train/000001.jpg depth/train/000001.png <class id>
# The layout is declared once, in `modalities`; each dataset hands it to its
# pipeline's loading step. A child config that changes `modalities` must also
# override the datasets' (mmengine resolves variables at parse time).
modalities = dict(rgb=3, depth=1)
dataset_type = 'SUNRGBDSceneDataset'
data_root = 'data/sunrgbd'
train_pipeline = [
    dict(type='LoadMultiModalImages'),  # `modalities`: the dataset's
    dict(
        type='MultiModalRandomResize',
        scale=(256, 256),
        ratio_range=(1.0, 1.25),
        keep_ratio=False),
    dict(type='MultiModalRandomCrop', crop_size=(224, 224)),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='RGBPhotoMetricDistortion'),
    dict(type='PackMultiModalClsInputs'),
]
test_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='MultiModalResize', scale=(224, 224), keep_ratio=False),
    dict(type='PackMultiModalClsInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        ann_file='scene_train.txt',
        pipeline=train_pipeline))
# val = test: in order, the test list, test pipeline
val_dataloader = dict(
    train_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        ann_file='scene_test.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
