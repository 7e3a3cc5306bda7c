# SUN RGB-D (37 classes) with the papers' training augmentation (as
# nyud_rgbd_paper.py: rescale 1.0-1.4 of 480 x 640, crop, HSV jitter of RGB
# only, flip). Class weights (median frequency of the training split):
#   python tools/dataset_converters/class_weights.py \
#       data/sunrgbd/label37/train --num-classes 37 \
#       -o data/sunrgbd/class_weights_label37.json
_base_ = ['./sunrgbd_rgbd.py']
class_weight_file = 'data/sunrgbd/class_weights_label37.json'
paper_train_pipeline = [
    dict(type='LoadMultiModalImages'),  # `modalities`: the dataset's
    dict(type='LoadMultiModalAnnotations'),
    dict(
        type='MultiModalRandomResize',
        scale=(640, 480),
        ratio_range=(1.0, 1.4),
        keep_ratio=True),
    dict(type='MultiModalRandomCrop', crop_size={{_base_.crop_size}}),
    dict(type='RGBRandomHSV', h_range=(0.9, 1.1), s_range=(0.9, 1.1),
         v_range=(0.9, 1.1)),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='MultiModalPad', size={{_base_.crop_size}}),
    dict(type='PackMultiModalSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=paper_train_pipeline))
