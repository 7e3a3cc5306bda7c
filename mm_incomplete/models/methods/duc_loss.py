"""DI-MML's dimension-decoupled unidirectional contrastive (DUC) loss.

Shorthand: B batch, M modalities, D feature channels of the last stage, K
classes, N samples (classification: images; segmentation: sampled labelled
pixels), h x w the last stage's size.

Detached and Interactive Multimodal Learning (Wang et al., ACM MM 2024).
Once, at a point of training, the **dimension split** is computed on the
training split (:func:`discriminative_dims`, run by
:class:`~mm_incomplete.engine.hooks.DUCSplitHook`): per modality m, class
prototypes p_kd; dimension d is discriminative for m if nearest-prototype
classification with d alone beats the mean accuracy over dimensions
(top_m). For an ordered pair (source s, target t) the loss works on the
dimensions where only s is discriminative, D_st = top_s \\ top_t:

    L_{t<-s} = mean_i -log softmax_j(<t_i[D_st], sg(s_j[D_st])> / T)_i

sg the stop-gradient: t learns from s on the dimensions s knows better, s
gets no gradient. For two modalities, L_v = L_{v<-a} on A_only and L_a =
L_{a<-v} on V_only, as in the paper; M modalities use every ordered pair.
Samples count for a pair where both modalities are present. The log-softmax
is computed with log-sum-exp (the release exponentiates raw dot products).

The split is method state: the (M, D) buffer ``discriminative`` and the flag
``split_ready`` are saved in checkpoints and restored on resume; before the
split exists the loss is 0. Everything in the training step runs on the
device (pixel sampling by random top-k, masked contrastive rows).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS

from mm_incomplete.modality import ModalityLayout
from ..losses.precision import fp32_loss
from ..utils.checks import check_temperature
from .base import BaseMethodLoss
from .record import ForwardRecord
from .unimodal_losses import stack_labels


def discriminative_dims(feats: torch.Tensor, labels: torch.Tensor,
                        num_classes: int, chunk: int = 256) -> torch.Tensor:
    """(D, ) bool: dimensions whose one-dimensional nearest-prototype
    accuracy beats the mean accuracy over dimensions.

    Args:
        feats (Tensor): (N, D) features.
        labels (Tensor): (N, ) class ids in [0, num_classes).
        num_classes (int): K; classes without samples have no prototype.
        chunk (int): samples per step (memory: chunk x K x D).

    Example:
        >>> feats = torch.tensor([[0., 5.], [0.1, -5.], [4., 5.], [4.1, -5.]])
        >>> discriminative_dims(feats, torch.tensor([0, 0, 1, 1]), 2)
        tensor([ True, False])
    """
    feats = feats.float()
    if feats.dim() != 2 or labels.shape != feats.shape[:1]:
        raise ValueError(f'feats must be (N, D) and labels (N, ), got '
                         f'{tuple(feats.shape)} and {tuple(labels.shape)}')
    counts = torch.bincount(labels, minlength=num_classes).float()
    protos = torch.zeros(num_classes, feats.shape[1], device=feats.device)
    protos.index_add_(0, labels, feats)
    protos = protos / counts.clamp(min=1)[:, None]
    absent = (counts == 0)[None, :, None]
    correct = torch.zeros(feats.shape[1], device=feats.device)
    for start in range(0, feats.shape[0], chunk):
        x, y = feats[start:start + chunk], labels[start:start + chunk]
        dist = (x[:, None, :] - protos[None]).abs()          # (n, K, D)
        pred = dist.masked_fill(absent, float('inf')).argmin(1)  # (n, D)
        correct += (pred == y[:, None]).float().sum(0)
    acc = correct / feats.shape[0]
    return acc > acc.mean()


@fp32_loss
def duc_pair_loss(target: torch.Tensor, source: torch.Tensor,
                  valid: torch.Tensor, temperature: float) -> torch.Tensor:
    """One direction of DUC: mean over valid i of -log softmax_j(<t_i, s_j>
    / T)_i, j over valid samples; ``source`` is detached here. The
    similarities and the log-softmax are computed in fp32 with autocast off.

    Args:
        target (Tensor): (N, d) features that learn.
        source (Tensor): (N, d) features they are pulled to (no gradient).
        valid (Tensor): (N, ) bool, samples that take part.
        temperature (float): T.

    Example:
        >>> t = torch.eye(3, requires_grad=True)
        >>> loss = duc_pair_loss(t, torch.eye(3), torch.ones(3).bool(), 1.)
        >>> round(loss.item(), 4)  # -log(e / (e + 2))
        0.5514
    """
    logits = target.float() @ source.detach().float().t() / temperature
    low = torch.finfo(logits.dtype).min
    logits = logits.masked_fill(~valid[None, :], low)
    logp = torch.log_softmax(logits, dim=1).diagonal()
    valid_f = valid.to(logits.dtype)
    return -(torch.where(valid, logp, torch.zeros_like(logp)) *
             valid_f).sum() / valid_f.sum().clamp(min=1)


def sample_pixels(feats: Dict[str, torch.Tensor], labels: torch.Tensor,
                  max_pixels: int, ignore_index: int = 255
                  ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor,
                             torch.Tensor, torch.Tensor]:
    """Up to ``max_pixels`` labelled pixels, the same for every modality.

    Args:
        feats (dict[str, Tensor]): ``{modality: (B, D, h, w)}``.
        labels (Tensor): (B, H, W) label maps (nearest-resized to h x w).
        max_pixels (int): N.
        ignore_index (int): unlabelled value.

    Returns:
        tuple: ``{modality: (N, D)}``, labels (N, ), sample index (N, ),
        valid (N, ) bool (False for padding where fewer pixels are
        labelled). Chosen by a random top-k on the device: no sync.
    """
    first = next(iter(feats.values()))
    b, _, h, w = first.shape
    small = F.interpolate(labels[:, None].float(), size=(h, w),
                          mode='nearest').long().flatten()      # (B*h*w, )
    labelled = small != ignore_index
    score = torch.rand(small.shape, device=small.device)
    score = score.masked_fill(~labelled, -1.0)
    k = min(max_pixels, small.numel())
    idx = score.topk(k).indices
    out = {n: f.permute(0, 2, 3, 1).reshape(-1, f.shape[1]).index_select(
        0, idx) for n, f in feats.items()}
    return out, small[idx], torch.div(idx, h * w, rounding_mode='floor'), \
        labelled[idx]


@MODELS.register_module()
class DUCLoss(BaseMethodLoss):
    """Dimension-decoupled unidirectional contrastive loss (DI-MML).

    Args:
        modalities (str | dict): the model's modality layout; a task model
            (or distiller) fills it in from its data preprocessor.
        feat_dim (int): D, channels of the last stage's per-modality
            features.
        temperature (float): T [50 for CREMA-D/ModelNet40, 10 for
            AVE/UCF101 in the release]. Defaults to 50.
        max_pixels (int): segmentation: labelled pixels sampled per batch.
            Defaults to 1024.
        ignore_index (int): unlabelled value in segmentation.
        loss_weight (float): factor. Defaults to 1.

    Example:
        >>> loss = DUCLoss(dict(rgb=3, depth=1), feat_dim=4)
        >>> loss.set_split(torch.tensor([[1, 1, 0, 0], [0, 1, 1, 0]]).bool())
        >>> loss.pair_dims()[('rgb', 'depth')].tolist()  # only rgb's: dim 0
        [0]
    """

    def __init__(self, modalities, feat_dim: int, temperature: float = 50.,
                 max_pixels: int = 1024, ignore_index: int = 255,
                 loss_weight: float = 1.0, init_cfg: Optional[dict] = None):
        super().__init__(loss_weight, init_cfg)
        self.layout = ModalityLayout(modalities, 'DUCLoss.modalities')
        self.feat_dim = int(feat_dim)
        self.temperature = check_temperature(temperature,
                                             'DUCLoss.temperature')
        self.max_pixels = int(max_pixels)
        self.ignore_index = ignore_index
        self.register_buffer(
            'discriminative',
            torch.zeros(len(self.layout), self.feat_dim, dtype=torch.bool))
        self.register_buffer('split_ready', torch.zeros((), dtype=torch.bool))
        self._host_split: Optional[torch.Tensor] = None
        self._pairs: Dict[Tuple[str, str], torch.Tensor] = {}

    # -- the split (method state) -------------------------------------------
    def set_split(self, discriminative: torch.Tensor) -> None:
        """Store the (M, D) bool split (top_m per modality)."""
        want = (len(self.layout), self.feat_dim)
        if tuple(discriminative.shape) != want:
            raise ValueError(f'DUCLoss split must be (M, D) = {want} for '
                             f'{self.layout!r}, got '
                             f'{tuple(discriminative.shape)}')
        self.discriminative.copy_(discriminative.to(torch.bool))
        self.split_ready.fill_(True)
        self._host_split = discriminative.detach().to('cpu', torch.bool)
        self._pairs = self._pair_dims()

    @property
    def ready(self) -> bool:
        return self._host_split is not None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        # once per load, on the host: the training step reads the host copy
        self._host_split = (self.discriminative.detach().cpu().clone()
                            if bool(self.split_ready) else None)
        self._pairs = self._pair_dims()

    def pair_dims(self) -> Dict[Tuple[str, str], torch.Tensor]:
        """``{(source, target): dims}`` host index tensors of D_st = top_s
        minus top_t, for every ordered pair with a non-empty D_st (derived
        once, when the split is set or loaded)."""
        return dict(self._pairs)

    def _pair_dims(self) -> Dict[Tuple[str, str], torch.Tensor]:
        if not self.ready:
            return {}
        out = {}
        names = self.layout.names
        for s, src in enumerate(names):
            for t, tgt in enumerate(names):
                if s == t:
                    continue
                dims = (self._host_split[s] & ~self._host_split[t]).nonzero()
                if dims.numel():
                    out[(src, tgt)] = dims.flatten()
        return out

    # -- features -------------------------------------------------------------
    def features(self, modal_feats: Dict[str, Sequence[torch.Tensor]],
                 data_samples: Sequence, task: str
                 ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor,
                            torch.Tensor, torch.Tensor]:
        """Per-modality (N, D) vectors of the last stage, their labels (N,),
        sample index (N, ) and validity (N, )."""
        last = {n: f[-1] for n, f in modal_feats.items()}
        for name, f in last.items():
            if f.shape[1] != self.feat_dim:
                raise ValueError(f'DUCLoss.feat_dim is {self.feat_dim} but '
                                 f'the last-stage {name} features have '
                                 f'{f.shape[1]} channels')
        device = next(iter(last.values())).device
        labels = stack_labels(data_samples, task, device)
        if task == 'cls':
            vecs = {n: f.mean((2, 3)) if f.dim() == 4 else f
                    for n, f in last.items()}
            batch = labels.shape[0]
            return vecs, labels, torch.arange(batch, device=device), \
                torch.ones(batch, dtype=torch.bool, device=device)
        return sample_pixels(last, labels, self.max_pixels,
                             self.ignore_index)

    def forward(self, record: ForwardRecord) -> Dict[str, torch.Tensor]:
        pairs = self.pair_dims()
        zero = record.inputs.new_zeros(())
        if not pairs or self.loss_scale == 0:
            return dict(loss_duc=zero)
        vecs, _, rows, valid = self.features(record.get('modal_feats'),
                                             record.data_samples, record.task)
        loss = zero
        for (src, tgt), dims in pairs.items():
            both = record.mask[:, record.layout.index(src)] & \
                record.mask[:, record.layout.index(tgt)]
            take = valid & both.index_select(0, rows)
            dims = dims.to(vecs[src].device, non_blocking=True)
            loss = loss + duc_pair_loss(vecs[tgt].index_select(1, dims),
                                        vecs[src].index_select(1, dims),
                                        take, self.temperature)
        return dict(loss_duc=self.scaled(loss))
