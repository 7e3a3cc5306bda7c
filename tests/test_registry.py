"""`import mm_incomplete` registers everything where each host scope sees it."""
from mmengine.registry import DefaultScope

import mm_incomplete  # noqa: F401


def _registries(scope):
    if scope == 'mmseg':
        from mmseg.registry import DATASETS, HOOKS, LOOPS, MODELS, TRANSFORMS
    else:
        from mmpretrain.registry import (DATASETS, HOOKS, LOOPS, MODELS,
                                         TRANSFORMS)
    return dict(DATASETS=DATASETS, HOOKS=HOOKS, LOOPS=LOOPS, MODELS=MODELS,
                TRANSFORMS=TRANSFORMS)


def test_seg_config_builds_ours_next_to_mmseg_modules():
    with DefaultScope.overwrite_default_scope('mmseg'):
        reg = _registries('mmseg')
        model = reg['MODELS'].build(
            dict(
                type='MultiModalEncoderDecoder',  # ours
                data_preprocessor=dict(
                    type='MultiModalSegDataPreProcessor',  # ours
                    modalities=dict(rgb=3, depth=1),
                    mean=dict(rgb=[0.0] * 3, depth=[0.0]),
                    std=dict(rgb=[1.0] * 3, depth=[1.0])),
                backbone=dict(
                    type='MultiBranchResNet',  # ours
                    modalities=dict(rgb=3, depth=1),
                    depth=18,
                    base_channels=8),
                decode_head=dict(
                    type='FCNHead',  # mmseg's
                    in_channels=64,
                    in_index=3,
                    channels=8,
                    num_classes=3,
                    loss_decode=dict(type='CrossEntropyLoss')),  # mmseg's
            ))
        assert type(model).__name__ == 'MultiModalEncoderDecoder'
        assert type(model.decode_head).__module__.startswith('mmseg.')
        # task-agnostic pieces live in mmengine's root, seen from mmseg
        assert reg['MODELS'].build(dict(type='GaussianKLLoss')) is not None
        assert reg['LOOPS'].get('MultiCombinationValLoop') is not None
        assert reg['HOOKS'].get('LossScaleWarmupHook') is not None
        assert reg['TRANSFORMS'].get('LoadMultiModalImages') is not None
        assert reg['TRANSFORMS'].get('PackMultiModalSegInputs') is not None
        assert reg['DATASETS'].get('NYUDv2Dataset') is not None


def test_cls_config_builds_ours_next_to_mmpretrain_modules():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        reg = _registries('mmpretrain')
        model = reg['MODELS'].build(
            dict(
                type='MultiModalImageClassifier',  # ours
                data_preprocessor=dict(
                    type='MultiModalClsDataPreProcessor',  # ours
                    modalities=dict(rgb=3, depth=1),
                    mean=dict(rgb=[0.0] * 3, depth=[0.0]),
                    std=dict(rgb=[1.0] * 3, depth=[1.0])),
                backbone=dict(
                    type='MultiBranchResNet',
                    modalities=dict(rgb=3, depth=1),
                    depth=18,
                    base_channels=8),
                neck=dict(type='GlobalAveragePooling'),  # mmpretrain's
                head=dict(
                    type='LinearClsHead', num_classes=3,
                    in_channels=64),  # mmpretrain's
            ))
        assert type(model).__name__ == 'MultiModalImageClassifier'
        assert type(model.head).__module__.startswith('mmpretrain.')
        assert reg['MODELS'].build(dict(type='GaussianKLLoss')) is not None
        assert reg['LOOPS'].get('MultiCombinationTestLoop') is not None
        assert reg['HOOKS'].get('WeakCombinationMiningHook') is not None
        assert reg['TRANSFORMS'].get('MultiModalRandomFlip') is not None
        assert reg['TRANSFORMS'].get('PackMultiModalClsInputs') is not None
        assert reg['DATASETS'].get('SyntheticRGBDClsDataset') is not None


def test_seg_modules_stay_out_of_the_cls_scope():
    from mmpretrain.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert DATASETS.get('NYUDv2Dataset') is None


def test_version():
    assert mm_incomplete.__version__.count('.') == 2
