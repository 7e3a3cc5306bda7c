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

**Parallel form (default).** Each branch only sees its own modality, so the
per-modality features do not depend on the mask. ``encode(inputs, mask)``
computes them once and ``fuse(feats, mask)`` combines them under any mask;
the every-combination evaluation runs the encoders once per batch.

**Feedback form** (``feedback='rgb'``, as in ESANet): after the stem and
after every stage the fused feature replaces the input of the named primary
branch's next stage. The primary encoder then depends on the mask, so
``encode``/``fuse`` are unavailable and every combination needs a full pass.

A branch runs only on the samples whose modality is present (a branch whose
modality is masked out for the whole batch does not run at all); its features
are zero for the other samples, which also keeps their zeroed inputs out of the
branch's BatchNorm statistics. Which branches and rows run is decided on the
host copy of the mask (a mask given on the CPU, as the task models do, costs
no synchronisation; the row indices go to the device without waiting). One exception: in training, a branch present in
a single sample of a larger batch runs on the whole batch with the other
samples' inputs zeroed, since BatchNorm cannot normalise one sample whose
feature map has shrunk to 1 x 1.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule, ModuleDict
from mmengine.registry import MODELS as ROOT_MODELS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS as MMSEG_MODELS

from mm_incomplete.modality import ModalityLayout
from ..utils import fusion as _fusion  # noqa: F401  registers the blocks
from .mask_utils import host_modality_mask, scatter_rows


class MultiBranchResNet(BaseModule):
    """One mmseg ResNet per modality, fused with masked SE at every stage.

    Registered in both mmseg's and mmpretrain's ``MODELS``.

    Args:
        modalities (str | dict): the modality layout, e.g.
            ``dict(rgb=3, depth=1)``; inputs stack the channels in this order.
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
        fusion (dict): config of the fusion block built once per fusion point
            with ``modalities`` and ``channels`` filled in. Defaults to
            ``dict(type='SqueezeExciteFusion', reduction=16, reduce='mean')``.
        feedback (str, optional): name of the primary modality that receives
            the fused features (ESANet's form). ``None`` (default) is the
            parallel form.
        init_cfg (dict, optional): mmengine init config.

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
                 modalities=dict(rgb=3, depth=1),
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
                 init_cfg=None):
        super().__init__(init_cfg)
        self.layout = ModalityLayout(modalities, 'backbone.modalities')
        if depth not in ResNet.arch_settings:
            raise ValueError(f'backbone.depth must be one of '
                             f'{sorted(ResNet.arch_settings)}, got {depth}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'backbone.num_stages must be 1-4, got '
                             f'{num_stages}')
        strides, dilations = tuple(strides)[:num_stages], \
            tuple(dilations)[:num_stages]
        out_indices = tuple(out_indices)
        if not out_indices or min(out_indices) < 0 or \
                max(out_indices) >= num_stages:
            raise ValueError(f'backbone.out_indices {out_indices} must lie '
                             f'in [0, {num_stages})')
        if feedback is not None and feedback not in self.layout.names:
            raise ValueError(f'backbone.feedback {feedback!r} is not a '
                             f'modality of {list(self.layout.names)}')
        self.feedback = feedback
        self.out_indices = out_indices
        self.num_stages = num_stages
        stem_channels = stem_channels or base_channels

        self.branches = ModuleDict()
        for name, ch in zip(self.layout.names, self.layout.channels):
            self.branches[name] = ResNet(
                depth=depth,
                in_channels=ch,
                stem_channels=stem_channels,
                base_channels=base_channels,
                num_stages=num_stages,
                strides=strides,
                dilations=dilations,
                out_indices=tuple(range(num_stages)),
                deep_stem=deep_stem,
                contract_dilation=contract_dilation,
                norm_cfg=norm_cfg,
                norm_eval=norm_eval,
                with_cp=with_cp,
                zero_init_residual=zero_init_residual)
        expansion = ResNet.arch_settings[depth][0].expansion
        stage_channels = [base_channels * 2**i * expansion
                          for i in range(num_stages)]
        self.out_channels = [stage_channels[i] for i in out_indices]

        # fusion points: the output stages (parallel form); the stem and
        # every stage (feedback form, whose primary branch needs them all)
        points = {f'layer{i + 1}': stage_channels[i]
                  for i in range(num_stages)
                  if feedback is not None or i in out_indices}
        if feedback is not None:
            points = {'stem': stem_channels, **points}
        self.fusions = ModuleDict({
            key: ROOT_MODELS.build(
                dict(fusion, modalities=self.layout.names, channels=ch))
            for key, ch in points.items()})

    # -- properties -------------------------------------------------------
    @property
    def encoder_is_mask_independent(self) -> bool:
        """True when ``encode``/``fuse`` may be used (parallel form)."""
        return self.feedback is None

    # -- one branch -------------------------------------------------------
    def _rows(self, present: torch.Tensor, device):
        """How a branch runs given its (B,) presence on the host: ``False``
        (not at all), ``None`` (whole batch), ``('rows', index)`` (those
        rows only; (N,) long on ``device``) or ``('zeroed', keep)`` (whole
        batch, other rows zeroed; (B,) bool on ``device``; training with a
        single present sample, see the module docstring)."""
        n = int(present.sum())
        if n == 0:
            return False
        if n == present.numel():
            return None
        if self.training and n == 1:
            return ('zeroed', present.to(device, non_blocking=True))
        return ('rows', present.nonzero().flatten().to(device,
                                                       non_blocking=True))

    @staticmethod
    def _take(x: torch.Tensor, rows) -> torch.Tensor:
        """The branch input (B or N, ...) for ``rows`` from ``_rows``."""
        if rows is None:
            return x
        kind, index = rows
        if kind == 'zeroed':
            return x.masked_fill(~index.view(-1, *[1] * (x.dim() - 1)), 0)
        return x.index_select(0, index)

    @staticmethod
    def _place(f: torch.Tensor, rows, batch: int) -> torch.Tensor:
        """A branch output back as (B, ...), zero where not present."""
        if rows is None:
            return f
        kind, index = rows
        if kind == 'zeroed':
            return f.masked_fill(~index.view(-1, *[1] * (f.dim() - 1)), 0)
        return scatter_rows(f, index, batch)

    def _stem(self, name: str, x: torch.Tensor) -> torch.Tensor:
        branch = self.branches[name]
        if branch.deep_stem:
            x = branch.stem(x)
        else:
            x = branch.relu(branch.norm1(branch.conv1(x)))
        return branch.maxpool(x)

    def _stage(self, name: str, i: int, x: torch.Tensor) -> torch.Tensor:
        branch = self.branches[name]
        return getattr(branch, branch.res_layers[i])(x)

    # -- the split API ----------------------------------------------------
    def encode(self, inputs: torch.Tensor,
               mask: Optional[torch.Tensor] = None
               ) -> Dict[str, List[torch.Tensor]]:
        """Run every needed branch and its SE recalibration once.

        Args:
            inputs (Tensor): (B, C, H, W) stacked modalities.
            mask (Tensor, optional): (B, M) bool; a branch runs only on the
                samples where its modality is True and is skipped when it is
                False for the whole batch. ``None``: every modality.

        Returns:
            dict[str, list[Tensor]]: for each modality that ran, one
            recalibrated feature (B, C_i, h_i, w_i) per output stage, zero for
            the samples where it did not run.
        """
        if self.feedback is not None:
            raise RuntimeError(
                'MultiBranchResNet.encode needs the parallel form '
                '(feedback=None): with feedback the primary branch sees the '
                'fused features, which depend on the mask; call forward')
        batch = inputs.shape[0]
        mask = host_modality_mask(mask, batch, self.layout)
        x = self.layout.split(inputs)
        last = max(self.out_indices)
        feats = {}
        for m, name in enumerate(self.layout.names):
            rows = self._rows(mask[:, m], inputs.device)
            if rows is False:
                continue
            h = self._stem(name, self._take(x[name], rows))
            outs = []
            for i in range(last + 1):
                h = self._stage(name, i, h)
                if i in self.out_indices:
                    f = self.fusions[f'layer{i + 1}'].recalibrate(name, h)
                    outs.append(self._place(f, rows, batch))
            feats[name] = outs
        return feats

    def fuse(self, feats: Dict[str, List[torch.Tensor]],
             mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor]:
        """Combine ``encode``'s features under a mask.

        Args:
            feats (dict[str, list[Tensor]]): output of :meth:`encode`.
            mask (Tensor, optional): (B, M) bool; every modality it keeps
                must be in ``feats``. ``None``: every modality.

        Returns:
            tuple[Tensor]: fused (B, C_i, h_i, w_i) for each output stage.
        """
        if not feats:
            raise ValueError('fuse got no branch features')
        ref = next(iter(feats.values()))[0]
        # the host copy: the fusion blocks check it and move their weights
        mask = host_modality_mask(mask, ref.shape[0], self.layout)
        return tuple(
            self.fusions[f'layer{i + 1}'].combine(
                {n: f[j] for n, f in feats.items()}, mask)
            for j, i in enumerate(self.out_indices))

    # -- forward ----------------------------------------------------------
    def forward(self, inputs: torch.Tensor,
                mask: Optional[torch.Tensor] = None, *,
                modal_feats: Optional[dict] = None) -> Tuple[torch.Tensor]:
        """inputs (B, C, H, W), mask (B, M) bool or None (full) -> tuple of
        fused (B, C_i, h_i, w_i), one per ``out_indices``.

        ``modal_feats``: a dict to fill with :meth:`encode`'s per-modality
        features of this pass (parallel form only), so a caller gets them
        from the same run (forward hooks on the backbone still fire).
        """
        if self.feedback is None:
            mask = host_modality_mask(mask, inputs.shape[0], self.layout)
            feats = self.encode(inputs, mask)
            if modal_feats is not None:
                modal_feats.update(feats)
            return self.fuse(feats, mask)
        if modal_feats is not None:
            raise RuntimeError(
                'MultiBranchResNet: per-modality features (modal_feats) need '
                'the parallel form (feedback=None)')
        return self._forward_feedback(inputs, mask)

    def _fuse_point(self, key: str, cur: Dict[str, torch.Tensor],
                    rows: Dict[str, torch.Tensor], mask: torch.Tensor,
                    batch: int) -> torch.Tensor:
        fusion = self.fusions[key]
        feats = {name: self._place(fusion.recalibrate(name, h), rows[name],
                                   batch) for name, h in cur.items()}
        return fusion.combine(feats, mask)

    def _forward_feedback(self, inputs, mask):
        batch = inputs.shape[0]
        mask = host_modality_mask(mask, batch, self.layout)
        x = self.layout.split(inputs)
        cur, rows = {}, {}
        for m, name in enumerate(self.layout.names):
            r = self._rows(mask[:, m], inputs.device)
            if r is not False:
                rows[name] = r
                cur[name] = self._stem(name, self._take(x[name], r))
        primary = self.feedback if self.feedback in cur else None

        def feed(fused):
            if primary is not None:
                cur[primary] = self._take(fused, rows[primary])

        feed(self._fuse_point('stem', cur, rows, mask, batch))
        outs = []
        for i in range(max(self.out_indices) + 1):
            for name in cur:
                cur[name] = self._stage(name, i, cur[name])
            fused = self._fuse_point(f'layer{i + 1}', cur, rows, mask, batch)
            if i in self.out_indices:
                outs.append(fused)
            feed(fused)
        return tuple(outs)


MMSEG_MODELS.register_module(module=MultiBranchResNet)
MMPRETRAIN_MODELS.register_module(module=MultiBranchResNet)
