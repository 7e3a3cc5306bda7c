# Early fusion on NYUDv2 (40 classes), the papers' setting:
# multi_branch_full_nyud_rgbd.py with one ResNet-50 on the stacked RGB-D
# channels instead of one per modality; 480 x 640 input, batch 8, SGD
# Nesterov lr 0.01, momentum 0.9, weight decay 1e-4, 300 epochs, one-cycle
# schedule. Trained on full modalities; a missing modality is zeroed at test
# time.
_base_ = ['./multi_branch_full_nyud_rgbd.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='EarlyFusionResNet',
        modalities={{_base_.modalities}},
        depth=50,
        base_channels=64,
        stem_channels=64,
        out_indices=(0, 1, 2, 3),
        norm_cfg={{_base_.norm_cfg}}))
