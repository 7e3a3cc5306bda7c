# Early fusion on the synthetic RGB-D segmentation set, CPU size (a few
# minutes on 2 cores): multi_branch_full_synthetic_seg_cpu.py with one
# ResNet-18 of width 16 on the stacked channels instead of one per modality;
# UPerHead, trained on full modalities.
_base_ = ['./multi_branch_full_synthetic_seg_cpu.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='EarlyFusionResNet',
        depth=18,
        base_channels={{_base_.width}},
        stem_channels={{_base_.width}},
        out_indices=(0, 1, 2, 3),
        norm_cfg={{_base_.norm_cfg}}))
