# Early fusion on the synthetic RGB-D classification set, CPU size:
# multi_branch_full_synthetic_cls_cpu.py with one ResNet-18 of width 16 on
# the stacked channels instead of one per modality; global pooling, linear
# head; trained on full modalities.
_base_ = ['./multi_branch_full_synthetic_cls_cpu.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='EarlyFusionResNet',
        depth=18,
        base_channels={{_base_.width}},
        stem_channels={{_base_.width}},
        out_indices=(3, )))
