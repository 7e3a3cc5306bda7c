"""The modality-transfer task and the CTN reconstruction of one-stage
modality distillation (Wei, Luo, Luo, arXiv 2309.08204).

Shorthand: B batch, C_i channels of stage i, h_i x w_i its size, K classes,
S stages of the hallucination branch, L aligned feature layers.

The student's hallucination branch reads the available modality A and is
trained to restore the privileged modality P's features. A *transfer
decoder* (training only: it lives in this loss, not in the student, so it
never runs at inference and is not exported) decodes the restored features
``h_1 .. h_S``; the frozen P-only teacher gives the targets::

    z_tr     = TransferDecoder(h_1 .. h_S)          (B, K, h, w) | (B, K)
    L_KD     = sum_s w_s tau^2 KL(softmax(z_t^s/tau) || softmax(z_tr^s/tau))
    L_JMMD   = JMMD([h_2, h_3, ctx_tr, softmax z_tr],
                    [t_2, t_3, ctx_t, softmax z_t])
    L_MMD    = sum_l MMD(layer_l of student, layer_l of teacher)   (optional)

with ``ctx`` the decoder's context output (segmentation: the pyramid
pooling bottleneck; classification: the pooled feature). The KD acts at
every scale s the head's task loss supervises, with that loss's weights
w_s: one scale (w = 1) for UPerHead and classification heads; for
ESANet's head the full-size output and the three side outputs (1/32, 1/16,
1/8), w = (1, *side_loss_weights), the same sum as its deep-supervised
cross-entropy. z_tr without a superscript is the full-size output.
:class:`CrossTranslationReconstructionLoss` averages the reconstruction
errors the CTN blocks recorded (see
:class:`~mm_incomplete.models.utils.cross_translation.CrossTranslationFusion`).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from ..distillers.feature_recorder import FeatureRecorder
from .precision import fp32_loss


@MODELS.register_module()
class TransferDecoder(BaseModule):
    """A task decoder on multi-level features: optional neck, then a head.

    ``forward(feats) = head(neck(feats))`` with the head's ``forward`` (the
    raw logits: mmseg decode heads, mmpretrain classification heads);
    ``forward(feats, all_scales=True)`` gives the logits of every scale the
    head's task loss supervises (the head's own ``forward_supervised``,
    e.g. ``ESANetHead``'s output and side outputs; else its one output)
    and their weights.

    Args:
        head (dict): head config (e.g. ``UPerHead`` or ``LinearClsHead``),
            built in the current default scope.
        neck (dict, optional): neck config (e.g. ``GlobalAveragePooling``).
        init_cfg (dict, optional): mmengine init config.

    Example:
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmpretrain')
        >>> dec = TransferDecoder(
        ...     neck=dict(type='GlobalAveragePooling'),
        ...     head=dict(type='LinearClsHead', num_classes=3, in_channels=8))
        >>> dec((torch.rand(2, 4, 8, 8), torch.rand(2, 8, 4, 4))).shape
        torch.Size([2, 3])
    """

    def __init__(self, head: dict, neck: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.head = MODELS.build(head)

    def forward(self, feats: Sequence[torch.Tensor],
                all_scales: bool = False
                ) -> Union[torch.Tensor,
                           Tuple[List[torch.Tensor], Tuple[float, ...]]]:
        """feats: S maps (B, C_i, h_i, w_i) -> logits; with ``all_scales``
        (logits of each supervised scale, the main output first; their
        weights in the head's task loss)."""
        feats = tuple(feats)
        if self.neck is not None:
            feats = self.neck(feats)
        if not all_scales:
            return self.head(feats)
        if hasattr(self.head, 'forward_supervised'):
            scales, weights = self.head.forward_supervised(feats)
            return list(scales), tuple(float(w) for w in weights)
        return [self.head(feats)], (1.0, )


@MODELS.register_module()
class ModalityTransferLoss(BaseModule):
    """Transfer decoder + logit KD + JMMD (+ optional per-layer MMD).

    Used as a distillation loss of :class:`SegDistiller` /
    :class:`ClsDistiller` (which hands it the recorded student and teacher
    outputs); returns a dict of losses, logged as ``<name>.loss_kd``,
    ``<name>.loss_jmmd``, ...

    Args:
        decoder (dict): :class:`TransferDecoder` arguments (``head``,
            ``neck``): the same head as the student's fusion decoder.
        context (str | dict): the decoder's context output as a module path
            inside the decoder (``'head.bottleneck'`` for UPerHead,
            ``dict(path='neck', index=-1)`` for a pooling neck).
        jmmd_stages (Sequence[int]): indices into the hallucination features
            aligned with ``teacher_feats`` (in order), e.g. ``(1, 2)`` for
            stages 2 and 3.
        kd (dict | None): logit KD config, e.g.
            ``dict(type='LogitKLDistillLoss', tau=1.0, loss_weight=1.0)``;
            applied at each scale the decoder's head supervises (its
            ``forward_supervised`` if it has one), weighted by the head's
            weights of those scales and summed (ESANet: output + 3 side
            outputs, each weight 1).
        jmmd (dict | None): :class:`JointMMDLoss` config.
        mmd (dict | None): :class:`MultiKernelMMDLoss` config applied to each
            aligned feature layer (stages and context) and summed: the
            per-layer form of the authors' fragment.
        init_cfg (dict, optional): mmengine init config.

    Example:
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmpretrain')
        >>> loss = ModalityTransferLoss(
        ...     decoder=dict(neck=dict(type='GlobalAveragePooling'),
        ...                  head=dict(type='LinearClsHead', num_classes=3,
        ...                            in_channels=8)),
        ...     context=dict(path='neck', index=-1), jmmd_stages=(0, ),
        ...     kd=dict(type='LogitKLDistillLoss'),
        ...     jmmd=dict(type='JointMMDLoss', samples='image'))
        >>> h = (torch.rand(4, 4, 8, 8), torch.rand(4, 8, 4, 4))
        >>> out = loss(h, (torch.rand(4, 4, 8, 8), ), torch.rand(4, 8),
        ...            torch.randn(4, 3))
        >>> sorted(out)
        ['loss_jmmd', 'loss_kd']
    """

    def __init__(self,
                 decoder: dict,
                 context: Union[str, dict],
                 jmmd_stages: Sequence[int] = (1, 2),
                 kd: Optional[dict] = dict(type='LogitKLDistillLoss'),
                 jmmd: Optional[dict] = dict(type='JointMMDLoss'),
                 mmd: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        if kd is None and jmmd is None and mmd is None:
            raise ValueError('ModalityTransferLoss: set at least one of kd, '
                             'jmmd, mmd')
        self.decoder = TransferDecoder(**decoder)
        self.jmmd_stages = tuple(int(i) for i in jmmd_stages)
        self.kd = MODELS.build(kd) if kd is not None else None
        self.jmmd = MODELS.build(jmmd) if jmmd is not None else None
        self.mmd = MODELS.build(mmd) if mmd is not None else None
        self._context = FeatureRecorder(self.decoder, dict(context=context),
                                        'ModalityTransferLoss')

    def forward(self, hall_feats: Sequence[torch.Tensor],
                teacher_feats: Sequence[torch.Tensor],
                context_t: torch.Tensor,
                logits_t: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Args:
            hall_feats (Sequence[Tensor]): the hallucination branch's S
                stage features (B, C_i, h_i, w_i).
            teacher_feats (Sequence[Tensor]): the teacher's features paired
                with ``hall_feats[jmmd_stages]``.
            context_t (Tensor): the teacher decoder's context output.
            logits_t (Tensor | Sequence[Tensor]): the teacher's logits
                (B, K, h, w) / (B, K), or one per supervised scale in the
                transfer decoder's order (ESANet: full size, side 1/32,
                1/16, 1/8); the first is the prediction the JMMD uses.

        Returns:
            dict[str, Tensor]: ``loss_kd``, ``loss_jmmd``, ``loss_mmd`` (those
            configured).
        """
        hall_feats = tuple(hall_feats)
        if len(teacher_feats) != len(self.jmmd_stages) or any(
                not -len(hall_feats) <= i < len(hall_feats)
                for i in self.jmmd_stages):
            raise ValueError(
                f'ModalityTransferLoss: jmmd_stages {self.jmmd_stages} must '
                f'index the {len(hall_feats)} hallucination features and '
                f'match the {len(teacher_feats)} teacher features')
        with self._context:
            scales_s, weights = self.decoder(hall_feats, all_scales=True)
        context_s = self._context.get('context')
        self._context.clear()
        scales_t = [logits_t] if isinstance(logits_t, torch.Tensor) \
            else list(logits_t)
        if len(scales_t) != len(scales_s):
            raise ValueError(
                'ModalityTransferLoss: the transfer decoder supervises '
                f'{len(scales_s)} scales '
                f'{[tuple(z.shape) for z in scales_s]} but `logits_t` gives '
                f'{len(scales_t)} {[tuple(z.shape) for z in scales_t]}; '
                'record one teacher output per scale, in the same order '
                '(ESANetHead: decode_head.upsample.1, then '
                'decode_head.decoder.0/1/2.side_output)')
        logits_s, logits_t = scales_s[0], scales_t[0]
        feats_s = [hall_feats[i] for i in self.jmmd_stages] + [context_s]
        feats_t = list(teacher_feats) + [context_t]
        losses = {}
        if self.kd is not None:
            losses['loss_kd'] = sum(
                w * self.kd(zs, zt)
                for w, zs, zt in zip(weights, scales_s, scales_t))
        if self.jmmd is not None:
            losses['loss_jmmd'] = self.jmmd(feats_s, feats_t, logits_s,
                                            logits_t)
        if self.mmd is not None:
            losses['loss_mmd'] = sum(
                self.mmd(fs, ft) for fs, ft in zip(feats_s, feats_t))
        return losses


@MODELS.register_module()
class CrossTranslationReconstructionLoss(torch.nn.Module):
    """Weighted mean of the reconstruction errors of the CTN blocks.

    Args:
        loss_weight (float): multiplies the mean.

    Example:
        >>> loss = CrossTranslationReconstructionLoss(loss_weight=2.0)
        >>> float(loss((torch.tensor(1.0), torch.tensor(3.0))))
        4.0
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    @fp32_loss
    def forward(self, errors: Sequence[torch.Tensor]) -> torch.Tensor:
        """errors: one scalar per CTN block (recorded
        ``backbone.fusions.<point>.reconstruction`` outputs)."""
        if isinstance(errors, torch.Tensor):
            errors = (errors, )
        if not errors or any(e.dim() != 0 for e in errors):
            raise ValueError('CrossTranslationReconstructionLoss needs one '
                             'scalar error per CTN block, got '
                             f'{[tuple(e.shape) for e in errors]}')
        return self.loss_weight * torch.stack(list(errors)).mean()
