# SUN RGB-D, 37 classes, RGB-D; 5285 train / 5050 test (val = test).
# Frames vary in size; they are resized to 480 x 640 like NYUDv2.
# Layout: see SUNRGBDDataset (tools/dataset_converters/sunrgbd.py writes it).
# The pipelines are NYUDv2's (nyud_rgbd.py); only the dataset differs.
# A child config that changes `modalities` must also override the datasets'
# (mmengine resolves variables at parse time).
_base_ = ['./nyud_rgbd.py']
dataset_type = 'SUNRGBDDataset'
data_root = 'data/sunrgbd'
num_classes = 37
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        modalities={{_base_.modalities}},
        split='train',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        modalities={{_base_.modalities}},
        split='test',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
