# The static-fusion baseline UDML is compared with, on the synthetic RGB-D
# classification set, CPU size: synthetic_cls_cpu.py without any UDML
# mechanism (no UDMLBackbone: no embedding, estimator, reliance or dynamic
# weights; no UDMLLoss), i.e. the multi-branch ModDrop baseline
# (baselines/multi_branch_moddrop_synthetic_cls_cpu.py, masked SE-mean fusion
# of the deepest stage) trained on exactly UDML's data: the same pipeline
# with the same MultiModalNoiseInjection (clean for the first half, a random
# level per sample and modality afterwards, switched by the same
# UDMLSwitchHook at the same iteration), the same gradient clipping and
# loader. Only the model differs, so a gap under noise is UDML's and not the
# noisy training data's.
_base_ = ['./synthetic_cls_cpu.py']
weights_begin = None  # no dynamic weights
model = dict(
    # the wrapped backbone of synthetic_cls_cpu.py, unwrapped (the same as
    # the ModDrop baseline's; tests/test_configs/test_udml_moddrop_noise.py)
    backbone=dict(
        _delete_=True,
        type='MultiBranchResNet',
        depth=18,
        base_channels=16,
        out_indices=(3, ),
        fusion=dict(type='SqueezeExciteFusion', reduction=16, reduce='mean'),
        feedback=None),
    method_losses=None)
custom_hooks = [
    dict(
        type='UDMLSwitchHook',
        noise_begin={{_base_.noise_begin}},
        weights_begin=weights_begin,
        by_epoch=False)
]
