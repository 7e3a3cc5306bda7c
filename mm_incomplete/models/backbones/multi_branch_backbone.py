"""Multi-branch backbone: any backbone per modality, fused at its stages.

Shorthand: B batch, M modalities, C stacked input channels, C_m channels of
modality m, C_i channels of output stage i, H x W input size.

    x_m      = inputs[:, channels of m]                        (B, C_m, H, W)
    f_{m,i}  = stage i of branch m                             (B, C_i, h_i, w_i)
    r_{m,i}  = fusion_i.recalibrate(m, f_{m,i})  (mask-free)   (B, C_i, h_i, w_i)
    fused_i  = fusion_i.combine([r_{1,i}, ..., r_{M,i}], mask) (B, C_i, h_i, w_i)

Each branch is built from a backbone config (``branch``) with ``in_channels``
set to its modality's channel count: mmseg/mmpretrain ``ResNet``,
``ResNetV1c``, ``MixVisionTransformer``, mmpretrain ``ConvNeXt`` (with
``gap_before_final_norm=False``) or anything that returns a tuple of
(B, C_i, h_i, w_i) stage features. The branch's own ``out_indices`` declare
the stages that are fused and output; every branch must give the same
channels and sizes there. A fusion block (:class:`BaseFusion`) is built at
each of those stages.

**Parallel form (default).** Each branch only sees its own modality, so the
per-modality features do not depend on the mask: ``encode(inputs, mask)``
runs each branch once, ``fuse(feats, mask)`` combines them under any mask,
and every-combination evaluation runs each encoder once per batch.

**Feedback form** (``feedback='rgb'``, ESANet): after the stem and after
every stage the fused feature replaces the input of the named primary
branch's next stage. This needs per-stage stepping, which only the ResNet
family exposes (``stem`` / ``conv1``, ``maxpool`` and ``res_layers``), so
the feedback form is limited to ResNet branches; a transformer such as
MixVisionTransformer runs as a whole and supports the parallel form only.

Which samples a branch runs on is decided by :mod:`.branch_rows` (rows of
absent samples are not run; a branch absent from the whole batch does not
run; the single-sample BatchNorm exception), independently of the branch
type, on the host copy of the mask: a mask given on the CPU, as the task
models do, costs no synchronisation.
"""
import copy
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule, ModuleDict
from mmengine.registry import MODELS as ROOT_MODELS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from mm_incomplete.modality import ModalityLayout
from ..utils import fusion as _fusion  # noqa: F401  registers the blocks
from ..utils.fusion import BaseFusion
from .branch_rows import BranchRows, plan_branch_rows
from ..utils.pretrained import init_weights_with_deferred
from .mask_utils import host_modality_mask


def is_stepwise(branch: nn.Module) -> bool:
    """True for a ResNet-family branch that can be run stage by stage."""
    return (isinstance(getattr(branch, 'res_layers', None), (list, tuple))
            and hasattr(branch, 'maxpool'))


def resnet_stem(branch: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The stem of an mmseg/mmpretrain ResNet (deep or not) and its max
    pooling: (B, C_m, H, W) -> (B, C_stem, H/4, W/4)."""
    if getattr(branch, 'deep_stem', False):
        x = branch.stem(x)
    else:
        x = branch.relu(branch.norm1(branch.conv1(x)))
    return branch.maxpool(x)


def resnet_stage(branch: nn.Module, i: int, x: torch.Tensor) -> torch.Tensor:
    """Residual stage ``i`` (0-based) of an mmseg/mmpretrain ResNet."""
    return getattr(branch, branch.res_layers[i])(x)


class MultiBranchBackbone(BaseModule):
    """One backbone per modality, fused under the modality mask.

    Registered in both mmseg's and mmpretrain's ``MODELS``.

    Args:
        modalities (str | dict | list | ModalityLayout): the modality layout,
            e.g. ``dict(rgb=3, depth=1)``; inputs stack the channels in this
            order. In a task model leave it unset: the model hands it its
            data preprocessor's
            (:mod:`~mm_incomplete.models.utils.model_layout`).
        branch (dict): the backbone config of every branch, e.g.
            ``dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3))``;
            ``in_channels`` is set per modality (do not give it). Its
            ``out_indices`` are the fused and output stages. A dict keyed by
            every modality name (``dict(rgb=dict(type=...), depth=...)``)
            gives each modality its own config; their stage features must
            agree in channels and size.
        fusion (dict): config of the fusion block (a :class:`BaseFusion`)
            built at every fusion point with ``modalities`` and ``channels``
            filled in. Defaults to ``dict(type='SqueezeExciteFusion',
            reduction=16, reduce='mean')``.
        feedback (str, optional): the primary modality that receives the
            fused features (ESANet's form, ResNet branches only). ``None``
            (default) is the parallel form.
        branch_inputs (dict, optional): ``{branch: source modality}``; the
            named branches read the source's channels instead of their own,
            e.g. ``dict(depth='rgb')`` makes the depth branch a
            hallucination branch that sees RGB (one-stage modality
            distillation). Such a branch runs where its source is present,
            and the fusion points see the branch mask ``mask[:, source of
            each branch]``. ``None``: every branch reads its own modality.
        probe_size (int): side of the zero image used once at construction
            to read the stage channels of the branches. Defaults to 64.
        init_cfg (dict, optional): mmengine init config.

    Example:
        >>> import torch
        >>> model = MultiBranchBackbone(
        ...     dict(rgb=3, depth=1),
        ...     branch=dict(type='mmseg.MixVisionTransformer', embed_dims=8,
        ...                 num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
        ...                 out_indices=(1, 3)))
        >>> model.out_channels, sorted(model.fusions)
        ([16, 64], ['layer2', 'layer4'])
        >>> mask = torch.tensor([[True, True], [False, True]])
        >>> [tuple(o.shape) for o in model(torch.rand(2, 4, 64, 64), mask)]
        [(2, 16, 8, 8), (2, 64, 2, 2)]
    """

    def __init__(self,
                 modalities=None,
                 branch: dict = dict(type='ResNet', depth=50),
                 fusion: dict = dict(
                     type='SqueezeExciteFusion', reduction=16, reduce='mean'),
                 feedback: Optional[str] = None,
                 branch_inputs: Optional[Dict[str, str]] = None,
                 probe_size: int = 64,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.layout = ModalityLayout(modalities, 'backbone.modalities')
        if feedback is not None and feedback not in self.layout.names:
            raise ValueError(f'backbone.feedback {feedback!r} is not a '
                             f'modality of {list(self.layout.names)}')
        self.feedback = feedback
        self.branch_inputs = self._check_branch_inputs(branch_inputs)
        self._sources = [self.layout.index(self.branch_inputs.get(n, n))
                         for n in self.layout.names]
        cfgs = self._branch_cfgs(branch)
        self.branches = ModuleDict()
        for name, src in zip(self.layout.names, self._sources):
            self.branches[name] = MMSEG_MODELS.build(
                dict(cfgs[name], in_channels=self.layout.channels[src]))
        self.stepwise = all(is_stepwise(b) for b in self.branches.values())
        if feedback is not None and not self.stepwise:
            kinds = sorted({type(b).__name__ for b in self.branches.values()
                            if not is_stepwise(b)})
            raise ValueError(
                f'backbone.feedback={feedback!r} needs branches that can be '
                f'run stage by stage (the ResNet family); {kinds} cannot. '
                'Use feedback=None (the parallel form)')
        self.out_indices, stage_channels, stem_channels = \
            self._probe(probe_size)
        self.out_channels = [stage_channels[i] for i in self.out_indices]
        # fusion points: the output stages (parallel form); the stem and
        # every stage (feedback form, whose primary branch needs them all)
        if feedback is None:
            points = {f'layer{i + 1}': stage_channels[i]
                      for i in self.out_indices}
        else:
            points = {'stem': stem_channels,
                      **{f'layer{i + 1}': ch
                         for i, ch in sorted(stage_channels.items())}}
        self.fusions = ModuleDict()
        for key, ch in points.items():
            block = ROOT_MODELS.build(
                dict(fusion, modalities=self.layout.names, channels=ch))
            if not isinstance(block, BaseFusion):
                raise TypeError(
                    f'backbone.fusion type {fusion.get("type")!r} built a '
                    f'{type(block).__name__}, which is not a BaseFusion '
                    '(mm_incomplete.models.utils.fusion)')
            self.fusions[key] = block

    # -- construction helpers -------------------------------------------
    def _check_branch_inputs(self, branch_inputs) -> Dict[str, str]:
        names = list(self.layout.names)
        if branch_inputs is None:
            return {}
        if not isinstance(branch_inputs, dict):
            raise TypeError('backbone.branch_inputs must be a dict {branch: '
                            f'source modality}}, got {branch_inputs!r}')
        for branch, src in branch_inputs.items():
            if branch not in names or src not in names:
                raise ValueError(
                    f'backbone.branch_inputs {branch_inputs!r}: {branch!r} -> '
                    f'{src!r} must map a branch to a modality, both of '
                    f'{names}')
        return dict(branch_inputs)

    def _branch_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, M) host modality mask -> (B, M) mask of the branches that
        run (each branch's source present); an error names
        ``branch_inputs`` when a sample has no branch left."""
        if not self.branch_inputs:
            return mask
        out = mask[:, self._sources]
        empty = (~out.any(1)).nonzero().flatten().tolist()
        if empty:
            kept = [[n for n, k in zip(self.layout.names, row) if k]
                    for row in mask[empty].tolist()]
            raise ValueError(
                f'samples {empty} have no branch to run: their modality mask '
                f'keeps {kept}, and with backbone.branch_inputs='
                f'{self.branch_inputs} no branch has its source modality')
        return out

    def _branch_view(self, inputs: torch.Tensor, mask: torch.Tensor):
        """Each branch's input {branch: (B, C_src, H, W)} and the (B, M)
        branch mask, from the stacked inputs and the host modality mask."""
        x = self.layout.split(inputs)
        if self.branch_inputs:
            x = {n: x[self.layout.names[s]]
                 for n, s in zip(self.layout.names, self._sources)}
        return x, self._branch_mask(mask)

    def _branch_cfgs(self, branch) -> Dict[str, dict]:
        names = self.layout.names
        if not isinstance(branch, dict):
            raise TypeError(f'backbone.branch must be a backbone config '
                            f'dict, got {branch!r}')
        if 'type' in branch:
            cfgs = {n: branch for n in names}
        elif set(branch) == set(names):
            cfgs = dict(branch)
        else:
            raise ValueError(
                'backbone.branch must be one backbone config (with `type`) '
                'or one per modality keyed by the modality names '
                f'{list(names)}; got keys {sorted(branch)}')
        out = {}
        for name, cfg in cfgs.items():
            if not isinstance(cfg, dict) or 'type' not in cfg:
                raise ValueError(f'backbone.branch of {name!r} needs a '
                                 f'`type`, got {cfg!r}')
            if 'in_channels' in cfg:
                raise ValueError(
                    f'backbone.branch of {name!r} sets in_channels='
                    f'{cfg["in_channels"]}; the branches take it from '
                    f'backbone.modalities {self.layout!r}: remove it')
            out[name] = copy.deepcopy(dict(cfg))
        return out

    @torch.no_grad()
    def _probe(self, size: int) -> Tuple[Tuple[int, ...], Dict[int, int],
                                         Optional[int]]:
        """Run every branch once on a zero image (eval mode) to read its
        output stages, their channels and (stepwise) the stem channels."""
        ref, ref_name = None, None
        for name, src in zip(self.layout.names, self._sources):
            ch = self.layout.channels[src]
            branch = self.branches[name]
            was_training = branch.training
            branch.eval()
            x = torch.zeros(1, ch, size, size)
            try:
                if self.stepwise:
                    h = resnet_stem(branch, x)
                    stem = h.shape[1]
                    out_idx = tuple(sorted(int(i)
                                           for i in branch.out_indices))
                    stages = {}
                    for i in range(len(branch.res_layers)):
                        h = resnet_stage(branch, i, h)
                        stages[i] = tuple(h.shape[1:])
                else:
                    stem = None
                    out_idx, outs = self._branch_outputs(
                        name, branch, branch(x))
                    stages = {i: tuple(o.shape[1:])
                              for i, o in zip(out_idx, outs)}
            finally:
                branch.train(was_training)
            found = (out_idx, {i: stages[i] for i in out_idx}, stem)
            if ref is None:
                ref, ref_name, ref_stages = found, name, stages
            elif found != ref:
                raise ValueError(
                    f'backbone.branch: the {name!r} branch gives stage '
                    f'features {found[1]} (out_indices {found[0]}) but the '
                    f'{ref_name!r} branch gives {ref[1]} (out_indices '
                    f'{ref[0]}) on a {size}x{size} input; fused branches '
                    'must agree in out_indices, channels and size')
            if not out_idx:
                raise ValueError(f'backbone.branch of {name!r} outputs no '
                                 'stage (empty out_indices)')
        channels = {i: s[0] for i, s in ref_stages.items()}
        return ref[0], channels, ref[2]

    @staticmethod
    def _branch_outputs(name, branch, outs
                        ) -> Tuple[Tuple[int, ...], List[torch.Tensor]]:
        """The stage indices and the list of outputs of one branch call,
        checked to be (B, C, h, w) features, one per ``out_indices``."""
        if isinstance(outs, torch.Tensor) or not isinstance(
                outs, (list, tuple)):
            outs = [outs]
        bad = [tuple(o.shape) for o in outs
               if not isinstance(o, torch.Tensor) or o.dim() != 4]
        if bad:
            raise ValueError(
                f'backbone.branch ({type(branch).__name__}) of {name!r} '
                f'returns outputs of shape {bad}; fusion needs (B, C, h, w) '
                'stage features (for mmpretrain ConvNeXt set '
                'gap_before_final_norm=False)')
        idx = getattr(branch, 'out_indices', None)
        idx = tuple(range(len(outs))) if idx is None else \
            tuple(int(i) for i in idx)
        if len(idx) != len(outs):
            raise ValueError(
                f'backbone.branch ({type(branch).__name__}) of {name!r} '
                f'returns {len(outs)} features for out_indices {idx}')
        return idx, list(outs)

    # -- properties -------------------------------------------------------
    def init_weights(self):
        """mmengine initialisation; ``PretrainedBranches`` (ImageNet
        weights per branch) runs last, after the branches' own."""
        init_weights_with_deferred(self)

    @property
    def encoder_is_mask_independent(self) -> bool:
        """True when ``encode``/``fuse`` may be used (parallel form)."""
        return self.feedback is None

    # -- one branch -------------------------------------------------------
    def _run_branch(self, name: str, x: torch.Tensor,
                    post: Callable[[int, torch.Tensor], torch.Tensor]
                    ) -> List[torch.Tensor]:
        """``post(i, f)`` of each output stage feature f (N, C_i, h_i, w_i)
        of branch ``name``, in ``out_indices`` order. A stepwise branch
        applies ``post`` right after its stage (the autograd graph, and so
        the rounding of the gradients, is then that of a plain loop)."""
        branch = self.branches[name]
        if not self.stepwise:
            outs = branch(x)
            if isinstance(outs, torch.Tensor):
                outs = [outs]
            return [post(i, f) for i, f in zip(self.out_indices, outs)]
        h = resnet_stem(branch, x)
        outs = []
        for i in range(max(self.out_indices) + 1):
            h = resnet_stage(branch, i, h)
            if i in self.out_indices:
                outs.append(post(i, h))
        return outs

    # -- the split API ----------------------------------------------------
    def encode(self, inputs: torch.Tensor,
               mask: Optional[torch.Tensor] = None
               ) -> Dict[str, List[torch.Tensor]]:
        """Run every needed branch and its recalibration once.

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
                f'{type(self).__name__}.encode needs the parallel form '
                '(feedback=None): with feedback the primary branch sees the '
                'fused features, which depend on the mask; call forward')
        return self._encode(inputs, host_modality_mask(
            mask, inputs.shape[0], self.layout))

    def _encode(self, inputs: torch.Tensor,
                mask: torch.Tensor) -> Dict[str, List[torch.Tensor]]:
        """:meth:`encode` under a validated (B, M) host mask."""
        batch = inputs.shape[0]
        x, mask = self._branch_view(inputs, mask)
        feats = {}
        for name, rows in zip(self.layout.names,
                              plan_branch_rows(mask, self.training,
                                               inputs.device)):
            if not rows.runs:
                continue
            feats[name] = self._run_branch(
                name, rows.take(x[name]),
                lambda i, f, name=name, rows=rows: rows.place(
                    self.fusions[f'layer{i + 1}'].recalibrate(name, f),
                    batch))
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
        return self._fuse(feats, host_modality_mask(
            mask, ref.shape[0], self.layout))

    def _fuse(self, feats: Dict[str, List[torch.Tensor]],
              mask: torch.Tensor) -> Tuple[torch.Tensor]:
        """:meth:`fuse` under a validated (B, M) host mask (the fusion
        blocks decide on it and move their weights to the features)."""
        mask = self._branch_mask(mask)
        return tuple(
            self.fusions[f'layer{i + 1}'].combine(
                [feats[n][j] if n in feats else None
                 for n in self.layout.names], mask)
            for j, i in enumerate(self.out_indices))

    # -- forward ----------------------------------------------------------
    def forward(self, inputs: torch.Tensor,
                mask: Optional[torch.Tensor] = None, *,
                modal_feats: Optional[dict] = None) -> Tuple[torch.Tensor]:
        """inputs (B, C, H, W), mask (B, M) bool or None (full) -> tuple of
        fused (B, C_i, h_i, w_i), one per output stage.

        The mask is validated once, on the host (a CPU mask, as the task
        models pass, costs no synchronisation). ``modal_feats``: a dict to
        fill with :meth:`encode`'s per-modality features of this pass
        (parallel form only), so a caller gets them from the same run
        (forward hooks on the backbone still fire).
        """
        mask = host_modality_mask(mask, inputs.shape[0], self.layout)
        if self.feedback is None:
            feats = self._encode(inputs, mask)
            if modal_feats is not None:
                modal_feats.update(feats)
            return self._fuse(feats, mask)
        if modal_feats is not None:
            raise RuntimeError(
                f'{type(self).__name__}: per-modality features (modal_feats) '
                'need the parallel form (feedback=None)')
        return self._forward_feedback(inputs, mask)

    def _fuse_point(self, key: str, cur: Dict[str, torch.Tensor],
                    rows: Dict[str, BranchRows], mask: torch.Tensor,
                    batch: int) -> torch.Tensor:
        fusion = self.fusions[key]
        feats = [rows[n].place(fusion.recalibrate(n, cur[n]), batch)
                 if n in cur else None for n in self.layout.names]
        return fusion.combine(feats, mask)

    def _forward_feedback(self, inputs: torch.Tensor,
                          mask: torch.Tensor) -> Tuple[torch.Tensor]:
        batch = inputs.shape[0]
        x, mask = self._branch_view(inputs, mask)
        cur, rows = {}, {}
        for name, r in zip(self.layout.names,
                           plan_branch_rows(mask, self.training,
                                            inputs.device)):
            if r.runs:
                rows[name] = r
                cur[name] = resnet_stem(self.branches[name],
                                        r.take(x[name]))
        primary = self.feedback if self.feedback in cur else None

        def feed(fused):
            if primary is not None:
                cur[primary] = rows[primary].take(fused)

        feed(self._fuse_point('stem', cur, rows, mask, batch))
        outs = []
        for i in range(max(self.out_indices) + 1):
            for name in cur:
                cur[name] = resnet_stage(self.branches[name], i, cur[name])
            fused = self._fuse_point(f'layer{i + 1}', cur, rows, mask, batch)
            if i in self.out_indices:
                outs.append(fused)
            feed(fused)
        return tuple(outs)


MMSEG_MODELS.register_module(module=MultiBranchBackbone)
MMPRETRAIN_MODELS.register_module(module=MultiBranchBackbone)
