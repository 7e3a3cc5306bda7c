"""Multi-branch ResNet: one encoder per modality, fused at every stage.

Shorthand: B batch, M modalities, C stacked input channels, C_m channels of
modality m, C_i channels of stage i, H x W input size, S stages.

The ESANet encoder (Seichter et al., ICRA 2021), the reference network of the
incomplete-RGB-D papers, generalised to M modalities and a modality mask:

    x_m        = inputs[:, channels of m]                 (B, C_m, H, W)
    f_{m,i}    = stage_i of branch m (its own f_{m,i-1})  (B, C_i, h_i, w_i)
    fused_i    = sum_m w_bm * SE_{m,i}(f_{m,i})           (B, C_i, h_i, w_i)

with ``w_bm`` the mask (``reduce='sum'``) or the mask divided by the number of
modalities present in sample b (``reduce='mean'``, the default: the fused
scale then does not depend on how many modalities arrived, which keeps the
decoder's input statistics the same across combinations).

It is :class:`MultiBranchBackbone` with an mmseg ``ResNet`` per modality,
configured by ResNet's own arguments (``depth``, ``base_channels``, ...) as
before the general backbone existed: same arguments, same state-dict keys
(``branches.<modality>.*``, ``fusions.layer<i>.*``, ``fusions.stem.*``).
The parallel and the feedback (``feedback='rgb'``) forms, the rows a branch
runs on and the single-sample BatchNorm exception are described in
:mod:`.multi_branch_backbone` and :mod:`.branch_rows`.
"""
from typing import Optional, Sequence

from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS as MMSEG_MODELS

from .multi_branch_backbone import MultiBranchBackbone


class MultiBranchResNet(MultiBranchBackbone):
    """One mmseg ResNet per modality, fused with masked SE at every stage.

    Registered in both mmseg's and mmpretrain's ``MODELS``.

    Args:
        modalities (str | dict): the modality layout, e.g.
            ``dict(rgb=3, depth=1)``; inputs stack the channels in this order.
            In a task model leave it unset: the model hands it its data
            preprocessor's.
        depth (int): ResNet depth of every branch: 18, 34, 50, 101 or 152.
        base_channels (int): width of the first stage (64 in the ResNet
            paper); stage i has ``base_channels * 2**i * expansion``
            channels. Small values (8-16) give CPU-size models.
        stem_channels (int, optional): stem width; defaults to
            ``base_channels``.
        deep_stem (bool): three 3x3 convs as stem (ResNetV1c). Defaults to
            False.
        num_stages (int): number of residual stages, 1-4. Defaults to 4.
        strides (Sequence[int]): stride of each stage.
        dilations (Sequence[int]): dilation of each stage.
        out_indices (Sequence[int]): stages whose fused features are output.
        contract_dilation (bool): see mmseg ``ResNet``.
        norm_cfg (dict): norm layer of the branches.
        norm_eval (bool): keep the branches' BN in eval mode while training.
        with_cp (bool): gradient checkpointing in the residual blocks.
        zero_init_residual (bool): zero-init the last BN of each block.
        fusion (dict): config of the fusion block (a ``BaseFusion``) built
            once per fusion point with ``modalities`` and ``channels`` filled
            in. Defaults to
            ``dict(type='SqueezeExciteFusion', reduction=16, reduce='mean')``.
        feedback (str, optional): name of the primary modality that receives
            the fused features (ESANet's form). ``None`` (default) is the
            parallel form.
        branch_inputs (dict, optional): ``{branch: source modality}``, see
            :class:`MultiBranchBackbone`.
        init_cfg (dict, optional): mmengine init config;
            ``dict(type='PretrainedBranches', checkpoint=...)`` loads one
            ImageNet ResNet into every branch (see
            :class:`~mm_incomplete.models.utils.pretrained.PretrainedBranchesInit`),
            after the branches' own initialisation.

    Example:
        >>> import torch
        >>> model = MultiBranchResNet(dict(rgb=3, depth=1), depth=18,
        ...                           base_channels=8)
        >>> mask = torch.tensor([[True, True], [True, False]])
        >>> outs = model(torch.rand(2, 4, 64, 64), mask)
        >>> [tuple(o.shape) for o in outs]
        [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4), (2, 64, 2, 2)]
        >>> feats = model.encode(torch.rand(2, 4, 64, 64))  # run once ...
        >>> len(model.fuse(feats, mask))                    # ... fuse many
        4
    """

    def __init__(self,
                 modalities=None,
                 depth: int = 50,
                 base_channels: int = 64,
                 stem_channels: Optional[int] = None,
                 deep_stem: bool = False,
                 num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 contract_dilation: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 zero_init_residual: bool = True,
                 fusion: dict = dict(
                     type='SqueezeExciteFusion', reduction=16, reduce='mean'),
                 feedback: Optional[str] = None,
                 branch_inputs: Optional[dict] = None,
                 init_cfg=None):
        if depth not in ResNet.arch_settings:
            raise ValueError(f'backbone.depth must be one of '
                             f'{sorted(ResNet.arch_settings)}, got {depth}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'backbone.num_stages must be 1-4, got '
                             f'{num_stages}')
        out_indices = tuple(out_indices)
        if not out_indices or min(out_indices) < 0 or \
                max(out_indices) >= num_stages:
            raise ValueError(f'backbone.out_indices {out_indices} must lie '
                             f'in [0, {num_stages})')
        branch = dict(
            type=ResNet,
            depth=depth,
            stem_channels=stem_channels or base_channels,
            base_channels=base_channels,
            num_stages=num_stages,
            strides=tuple(strides)[:num_stages],
            dilations=tuple(dilations)[:num_stages],
            out_indices=out_indices,
            deep_stem=deep_stem,
            contract_dilation=contract_dilation,
            norm_cfg=norm_cfg,
            norm_eval=norm_eval,
            with_cp=with_cp,
            zero_init_residual=zero_init_residual)
        super().__init__(modalities, branch=branch, fusion=fusion,
                         feedback=feedback, branch_inputs=branch_inputs,
                         init_cfg=init_cfg)
        self.num_stages = num_stages


MMSEG_MODELS.register_module(module=MultiBranchResNet)
MMPRETRAIN_MODELS.register_module(module=MultiBranchResNet)
