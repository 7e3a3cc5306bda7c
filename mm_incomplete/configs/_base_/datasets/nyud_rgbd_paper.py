# NYUDv2 (40 classes) with the papers' training augmentation (ESANet's,
# used by DMRNet's and MMANet's official code): random rescale by 1.0-1.4,
# random 480 x 640 crop, HSV jitter of the RGB channels (each of hue,
# saturation, value x U(0.9, 1.1)), horizontal flip. Depth and labels are
# resized with nearest interpolation. The task loss's class weights (median
# frequency of the training split) are stored next to the data:
#   python tools/dataset_converters/class_weights.py \
#       data/nyudv2/label40/train --num-classes 40 \
#       -o data/nyudv2/class_weights_label40.json
_base_ = ['./nyud_rgbd.py']
class_weight_file = 'data/nyudv2/class_weights_label40.json'
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
