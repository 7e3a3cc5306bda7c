"""UDML's noise-aware, reliance-corrected dynamic fusion around a
multi-branch backbone.

Shorthand: B batch, M modalities, C_i channels of stage i, C channels of the
last output stage, h x w a feature map's size.

Unbiased Dynamic Multimodal Learning (UDML; official code
shicaiwei123/UDML, audio-visual). Per modality m, on the last output stage:

    mu_m, log s_m^2 = ProbabilisticEmbedding(f_m)       (DMRNet's, reused)
    z_m             = mu_m + eps * s_m (training), mu_m (evaluation)
    o_bm            = g_m(pool(s_m).detach())           (estimator g_m)
    sigma_bm        = exp(o_bm / 2)
    w_bm = n_b (mask_bm sigma_bm^-2 / R_m) / sum_j mask_bj sigma_bj^-2 / R_j
         = n_b softmax_{j present}(-o_bj - log R_j)_m   (computed so)

n_b the number of modalities present in sample b and R_m the model's
reliance on m (a persistent running estimate, see :class:`UDMLLoss`). For
two present modalities this is the release's w_a = 2 u_a / (u_a + u_v),
u_a = t_a / R_a, t_a = 2 sigma_v^2 / (sigma_a^2 + sigma_v^2).

**Where the weights act** (the least invasive place on main's backbone):
between ``encode`` and ``fuse``. Every output stage's per-modality feature
(the last stage: z_m) is multiplied by (1 + w_bm) per sample before the
wrapped backbone's own fusion blocks (e.g. masked SE-mean) combine them, so
the image-level weights apply at every fusion point. Before the switch
(``weights_active`` False; release: epoch 60 of 100) w = 1, the fusion sees
2 f_m. Computed in :meth:`fuse`, so ``predict_combinations`` (encode once,
fuse per mask) gets each combination's own weights.
"""
import math
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule, ModuleDict
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from ..necks.probabilistic_embedding import ProbabilisticEmbedding
from .mask_utils import host_modality_mask, scatter_rows


def udml_fusion_weights(log_sigma2: torch.Tensor, mask: torch.Tensor,
                        reliance: torch.Tensor) -> torch.Tensor:
    """w_bm = n_b (mask_bm sigma_bm^-2 / R_m) / sum_j mask_bj sigma_bj^-2 /
    R_j from the estimator's output o_bm = log sigma_bm^2; zero for absent
    modalities, rows sum to n_b.

    Computed in the log domain, exactly: w_bm = n_b softmax_m(-o_bm -
    log R_m) over the present modalities (absent ones -inf), in float32 or
    wider. That is finite for every finite o, where the direct ratio is
    not: in float32 sigma = exp(o / 2) overflows for o > ~177 and sigma^-2
    for o < ~-88, and the ratio becomes inf / inf or 0 / 0 = NaN (or, with
    sigma floored, a tie between modalities whose o differ).
    **Floor on R**: R at or below the smallest positive normal number of
    the dtype (``torch.finfo(dtype).tiny``) is read as that number, i.e.
    the weights take their limit as R_m -> 0+: all the weight goes to the
    modality whose reliance vanished, instead of NaN. R_m = 0 is reachable
    in training: R is an EMA of L1 norms of logits and underflows to 0 when
    a modality's single-modality logits stay 0 (a dead branch), which
    ``reliance_<m>`` in the training log shows. Negative or non-finite R
    cannot come from training and are refused where a checkpoint is loaded
    (:meth:`UDMLBackbone._load_from_state_dict`). A row without any present
    modality (n_b = 0; :meth:`UDMLBackbone.fuse` refuses such a mask before
    this) gets weights 0.

    Args:
        log_sigma2 (Tensor): (B, M) estimator outputs o = log sigma^2
            (finite; any value where the modality is absent).
        mask (Tensor): (B, M) bool, True = present (same device).
        reliance (Tensor): (M, ) R_m >= 0.

    Example:
        >>> o = torch.tensor([[0., 2 * math.log(2)]])   # sigma = (1, 2)
        >>> w = udml_fusion_weights(o, torch.ones(1, 2).bool(),
        ...                         torch.tensor([1., 1.]))
        >>> [round(v, 2) for v in w[0].tolist()]   # 2 * (1, 1/4) / 1.25
        [1.6, 0.4]
        >>> w = udml_fusion_weights(o, torch.ones(1, 2).bool(),
        ...                         torch.tensor([0., 1.]))  # R_rgb -> 0+
        >>> [round(v, 2) for v in w[0].tolist()]
        [2.0, 0.0]
        >>> w = udml_fusion_weights(torch.tensor([[400., 300.]]),
        ...                         torch.ones(1, 2).bool(),
        ...                         torch.tensor([1., 1.]))  # sigma = inf
        >>> [round(v, 2) for v in w[0].tolist()]
        [0.0, 2.0]
    """
    if log_sigma2.dim() != 2 or log_sigma2.shape != mask.shape or \
            reliance.shape != log_sigma2.shape[1:]:
        raise ValueError(
            f'udml_fusion_weights: log_sigma2 (B, M), mask (B, M) and '
            f'reliance (M, ) expected, got {tuple(log_sigma2.shape)}, '
            f'{tuple(mask.shape)} and {tuple(reliance.shape)}')
    dtype = torch.promote_types(log_sigma2.dtype, torch.float32)
    log_r = reliance.to(dtype).clamp(min=torch.finfo(dtype).tiny).log()
    log_u = -log_sigma2.to(dtype) - log_r[None]
    log_u = log_u.masked_fill(~mask, float('-inf'))
    # a row without any present modality (n_b = 0): weights 0, not NaN
    log_u = log_u.masked_fill(~mask.any(1, keepdim=True), 0.0)
    n = mask.to(dtype).sum(1, keepdim=True)
    return n * torch.softmax(log_u, dim=1)


class NoiseUncertaintyEstimator(nn.Module):
    """UDML's estimator of one modality: o = g(pool(s).detach()),
    g = Linear(C, hidden) -> Dropout -> Linear(hidden, 1); the estimated
    noise level is sigma = exp(o / 2).

    It returns o = log sigma^2, not sigma: exp(o / 2) overflows float32 for
    o > ~177, and both users work from o (the fusion weights in the log
    domain, :func:`udml_fusion_weights`; the MSE with a documented bound,
    :func:`~mm_incomplete.models.methods.udml_loss.estimator_mse`).
    The input is detached: only the estimator's own loss (MSE against the
    injected noise level) trains it; nothing flows back into the encoder or
    the embedding.

    Args:
        in_channels (int): C.
        hidden (int): 256 in the release.
        dropout (float): 0.1 in the release.

    Example:
        >>> est = NoiseUncertaintyEstimator(8)
        >>> est(torch.rand(2, 8, 3, 3)).shape
        torch.Size([2])
    """

    def __init__(self, in_channels: int, hidden: int = 256,
                 dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.Dropout(dropout),
            nn.Linear(hidden, 1))

    def forward(self, std: torch.Tensor) -> torch.Tensor:
        """std (B, C, h, w) or (B, C) -> o = log sigma^2 (B, )."""
        x = std.detach()
        if x.dim() == 4:
            x = x.mean((2, 3))
        return self.net(x).squeeze(1)


class UDMLStats(NamedTuple):
    """What one :meth:`UDMLBackbone.fuse` computed (per modality that ran):
    ``mu``/``logvar`` (B, C, h, w) of the embedding, ``log_sigma2``
    (B, M) the estimators' outputs o = log sigma^2 (float32 or wider; 0,
    i.e. sigma = 1, where a modality did not run), ``weights`` (B, M), and
    the module (``owner``) whose reliance a loss updates."""
    mu: Dict[str, torch.Tensor]
    logvar: Dict[str, torch.Tensor]
    log_sigma2: torch.Tensor
    weights: torch.Tensor
    owner: 'UDMLBackbone'

    @property
    def sigma(self) -> torch.Tensor:
        """(B, M) sigma = exp(o / 2), for reading only (inf for o above
        ~177 in float32); the weights and the loss work from o."""
        return (0.5 * self.log_sigma2).exp()


class UDMLBackbone(BaseModule):
    """A parallel-form multi-branch backbone with UDML's dynamic fusion.

    Registered in mmseg's and mmpretrain's ``MODELS``. Exposes the wrapped
    backbone's ``layout``, ``out_channels``, ``encode`` and the
    ``encode``/``fuse`` split, so the task models and the every-combination
    evaluation use it unchanged.

    Args:
        backbone (dict): the wrapped backbone, parallel form
            (``encoder_is_mask_independent``), e.g. ``MultiBranchResNet``;
            a task model hands it its layout (``layout_children``).
        hidden (int): estimator width. Defaults to 256 (release).
        dropout (float): estimator dropout. Defaults to 0.1 (release).
        init_reliance (dict | float): R_m before any estimate; a dict per
            modality or one value. Defaults to 1 (no bias).
        init_cfg (dict, optional): mmengine init config.

    Buffers (saved in checkpoints, restored on resume, used at eval):
        ``reliance`` (M, ): R_m, updated by :class:`UDMLLoss`;
        ``weights_active`` (): False -> w = 1 (set by :class:`UDMLSwitchHook`).

    Example:
        >>> bb = UDMLBackbone(dict(type='MultiBranchResNet',
        ...                        modalities=dict(rgb=3, depth=1), depth=18,
        ...                        base_channels=8, out_indices=(3, )))
        >>> x = torch.rand(2, 4, 32, 32)
        >>> [f.shape[1] for f in bb(x)]
        [64]
    """

    #: configs of arguments that take the task model's layout
    layout_children = ('backbone', )

    def __init__(self, backbone: dict, hidden: int = 256,
                 dropout: float = 0.1, init_reliance=1.0, init_cfg=None):
        super().__init__(init_cfg)
        registry = MMSEG_MODELS if backbone.get('type') in \
            MMSEG_MODELS.module_dict else MMPRETRAIN_MODELS
        self.backbone = registry.build(backbone)
        if not getattr(self.backbone, 'encoder_is_mask_independent', False):
            raise ValueError(
                'UDMLBackbone.backbone must have per-modality encoders '
                '(encode/fuse; MultiBranchResNet with feedback=None), got '
                f'{type(self.backbone).__name__} with feedback='
                f'{getattr(self.backbone, "feedback", None)!r}')
        self.layout = self.backbone.layout
        self.out_channels = list(self.backbone.out_channels)
        channels = self.out_channels[-1]
        names = self.layout.names
        self.embeddings = ModuleDict(
            {n: ProbabilisticEmbedding(channels) for n in names})
        self.estimators = ModuleDict(
            {n: NoiseUncertaintyEstimator(channels, hidden, dropout)
             for n in names})
        if isinstance(init_reliance, dict):
            missing = set(names) ^ set(init_reliance)
            if missing:
                raise ValueError(f'UDMLBackbone.init_reliance must name '
                                 f'{list(names)}, got {init_reliance!r}')
            values = [float(init_reliance[n]) for n in names]
        else:
            values = [float(init_reliance)] * len(names)
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise ValueError(f'UDMLBackbone.init_reliance must be finite '
                             f'and > 0, got {init_reliance!r}')
        self.register_buffer('reliance', torch.tensor(values))
        self.register_buffer('weights_active',
                             torch.zeros((), dtype=torch.bool))
        self._active_host = False
        self.last_stats: Optional[UDMLStats] = None

    # -- state -----------------------------------------------------------
    def set_weights_active(self, active: bool) -> None:
        """Switch the dynamic weights on (True) or keep w = 1 (False)."""
        self.weights_active.fill_(bool(active))
        self._active_host = bool(active)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._active_host = bool(self.weights_active)  # once per load
        # R_m is an EMA of L1 norms (>= 0, finite); anything else is a
        # broken checkpoint, refused here rather than NaN weights later
        for name, value in zip(self.layout.names,
                               self.reliance.detach().cpu().tolist()):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(
                    f'UDMLBackbone: the loaded {prefix}reliance of '
                    f'{name!r} is {value!r}; a reliance must be finite and '
                    '>= 0 (an EMA of L1 norms of logits)')

    def update_reliance(self, values: torch.Tensor, valid: torch.Tensor,
                        momentum: float) -> None:
        """R_m <- momentum R_m + (1 - momentum) values_m where ``valid``
        (device tensors; no synchronisation)."""
        with torch.no_grad():
            new = self.reliance * momentum + values.detach().to(
                self.reliance) * (1 - momentum)
            self.reliance.copy_(torch.where(valid, new, self.reliance))

    @property
    def encoder_is_mask_independent(self) -> bool:
        return True

    # -- the split API ---------------------------------------------------
    def encode(self, inputs: torch.Tensor,
               mask: Optional[torch.Tensor] = None
               ) -> Dict[str, List[torch.Tensor]]:
        """The wrapped backbone's per-modality features (before weights)."""
        return self.backbone.encode(inputs, mask)

    def _embed(self, name: str, f: torch.Tensor, present: torch.Tensor):
        """Embedding of the rows where ``name`` is present (host (B,) bool)
        -> z, mu, logvar (B, ...) zero elsewhere, and the std."""
        batch = f.shape[0]
        index = present.nonzero().flatten()
        if index.numel() == batch:
            out = self.embeddings[name](f)
            return out.z, out.mu, out.logvar
        rows = index.repeat(2) if (self.training and
                                   index.numel() == 1) else index
        dev = rows.to(f.device, non_blocking=True)
        out = self.embeddings[name](f.index_select(0, dev))
        n = index.numel()
        dev = dev[:n]
        return tuple(scatter_rows(t[:n], dev, batch) for t in out)

    def fuse(self, feats: Dict[str, List[torch.Tensor]],
             mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor]:
        """Embed the last stage, estimate sigma, weigh, then fuse.

        Args:
            feats (dict[str, list[Tensor]]): output of :meth:`encode`.
            mask (Tensor, optional): (B, M) bool; None: every modality.

        Returns:
            tuple[Tensor]: the wrapped backbone's fused stage features.
            :attr:`last_stats` holds this call's :class:`UDMLStats`.
        """
        ref = next(iter(feats.values()))[-1]
        batch = ref.shape[0]
        mask = host_modality_mask(mask, batch, self.layout)
        names = self.layout.names
        mu, logvar, z = {}, {}, {}
        log_sigma2 = ref.new_zeros(
            batch, len(names),
            dtype=torch.promote_types(ref.dtype, torch.float32))
        cols = []
        for m, name in enumerate(names):
            if name not in feats or not bool(mask[:, m].any()):
                continue
            z[name], mu[name], logvar[name] = self._embed(
                name, feats[name][-1], mask[:, m])
            log_sigma2[:, m] = self.estimators[name](
                (0.5 * logvar[name]).exp())
            cols.append(m)
        dev_mask = mask.to(ref.device, non_blocking=True)
        if self._active_host:
            # from a detached o: the estimator learns only from its MSE
            weights = udml_fusion_weights(log_sigma2.detach(), dev_mask,
                                          self.reliance)
        else:
            weights = dev_mask.to(ref.dtype)
        scaled = {}
        for m, name in enumerate(names):
            if name not in z:
                continue
            scale = (1 + weights[:, m]).view(-1, 1, 1, 1)
            stages = list(feats[name][:-1]) + [z[name]]
            scaled[name] = [s * scale.to(s.dtype) for s in stages]
        self.last_stats = UDMLStats(mu, logvar, log_sigma2, weights, self)
        return self.backbone.fuse(scaled, mask)

    def forward(self, inputs: torch.Tensor,
                mask: Optional[torch.Tensor] = None, *,
                modal_feats: Optional[dict] = None) -> Tuple[torch.Tensor]:
        """inputs (B, C, H, W), mask (B, M) -> fused stage features."""
        mask = host_modality_mask(mask, inputs.shape[0], self.layout)
        feats = self.encode(inputs, mask)
        if modal_feats is not None:
            modal_feats.update(feats)
        return self.fuse(feats, mask)

    def forward_extras(self) -> dict:
        """What the task models record (``extras['udml']``) after a pass."""
        stats, self.last_stats = self.last_stats, None
        return {} if stats is None else dict(udml=stats)


MMSEG_MODELS.register_module(module=UDMLBackbone)
MMPRETRAIN_MODELS.register_module(module=UDMLBackbone)
