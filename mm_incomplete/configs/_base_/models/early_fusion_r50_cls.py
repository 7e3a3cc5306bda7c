# Early-fusion RGB-D classifier: one ResNet-50 on the stacked channels,
# channels of missing modalities zeroed, the same preprocessor, pooling and
# linear head as the multi-branch model (multi_branch_r50_cls.py); only the
# backbone differs. Trains from scratch. Child configs set the classes and
# the `train_sampler`.
_base_ = ['./multi_branch_r50_cls.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='EarlyFusionResNet',
        depth=50,
        base_channels=64,
        stem_channels=64,
        out_indices=(3, )))
