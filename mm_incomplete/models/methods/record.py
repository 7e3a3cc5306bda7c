"""What one training forward computed, handed to every method loss.

Shorthand: B batch, M modalities, C channels (C_i of stage i), K classes,
H x W input size, h x w a feature or logit map's size.

A task model (:class:`MultiModalEncoderDecoder`,
:class:`MultiModalImageClassifier`) builds one :class:`ForwardRecord` per
training step and passes it to each of its ``method_losses``; no method loss
recomputes what the forward already has.
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from mm_incomplete.modality import ModalityLayout

TASKS = ('seg', 'cls')


@dataclass
class ForwardRecord:
    """One record of a training forward.

    Args:
        task (str): ``'seg'`` or ``'cls'``.
        layout (ModalityLayout): the model's modalities.
        mask (Tensor): (B, M) bool on the inputs' device, True = present.
            Drawn once per batch by the data preprocessor.
        host_mask (Tensor): the same (B, M) bool mask on the CPU. Take every
            decision that depends on the mask (which samples, which branch)
            from this copy: reading ``mask`` on the host would wait for the
            accelerator.
        inputs (Tensor): (B, C, H, W) preprocessed stacked input (channels of
            absent modalities zeroed).
        data_samples (list): the batch's data samples (labels, masks).
        modal_feats (dict[str, list[Tensor]], optional): per-modality stage
            features before fusion, ``{modality: [(B, C_i, h_i, w_i)]}``, zero
            for the samples where the modality is absent; a modality absent
            from the whole batch is left out. ``None`` where the backbone
            cannot give them (early fusion, ESANet's feedback form).
        fused_feats (list[Tensor]): the backbone's output (fused stage
            features); for late fusion the same as ``modal_feats`` is not
            defined and this is ``None``.
        neck_feats (list[Tensor]): what the task head saw (after the neck;
            the backbone output without a neck). Late fusion: ``None``.
        head_logits (Tensor, optional): the task head's output before any
            resize: seg (B, K, h, w), cls (B, K). Late fusion: the decision
            rule's output. ``None`` for heads whose ``loss`` cannot be split
            into forward + loss.
        modal_logits (dict[str, Tensor], optional): late fusion only,
            ``{modality: logits}`` of each modality's head.
        logits_under (callable, optional): ``f(host_mask (B, M)) ->
            logits`` of the fused head under another mask, reusing this
            step's per-modality features (parallel-form backbones with
            early/mid fusion; e.g. UDML's single-modality logits).
        fusion_logits (Tensor, optional): late fusion with a fusion head
            (:class:`LateFusionHead` ``fusion_head``): its logits on the
            concatenated features, zero for the samples without every
            modality; ``None`` where no sample has every modality.
        extras (dict): anything else a module of the forward contributes,
            e.g. ``'embedding_stats'`` (list of :class:`GaussianEmbedding`
            from :class:`ProbabilisticEmbeddingNeck`).

    Example:
        >>> layout = ModalityLayout(dict(rgb=3, depth=1))
        >>> mask = torch.tensor([[True, True], [False, True]])
        >>> rec = ForwardRecord(task='cls', layout=layout, mask=mask,
        ...                     host_mask=mask, inputs=torch.zeros(2, 4, 8, 8))
        >>> rec.batch_size, rec.present_modalities()
        (2, ['rgb', 'depth'])
    """

    task: str
    layout: ModalityLayout
    mask: torch.Tensor
    host_mask: torch.Tensor
    inputs: torch.Tensor
    data_samples: Optional[Sequence] = None
    modal_feats: Optional[Dict[str, List[torch.Tensor]]] = None
    fused_feats: Optional[Sequence[torch.Tensor]] = None
    neck_feats: Optional[Sequence[torch.Tensor]] = None
    head_logits: Optional[torch.Tensor] = None
    modal_logits: Optional[Dict[str, torch.Tensor]] = None
    extras: Dict[str, Any] = field(default_factory=dict)
    logits_under: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    fusion_logits: Optional[torch.Tensor] = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f'ForwardRecord.task must be one of {TASKS}, '
                             f'got {self.task!r}')
        num = len(self.layout)
        for name in ('mask', 'host_mask'):
            m = getattr(self, name)
            if tuple(m.shape) != (self.inputs.shape[0], num):
                raise ValueError(
                    f'ForwardRecord.{name} must be (B={self.inputs.shape[0]}'
                    f', M={num}) for {self.layout!r}, got {tuple(m.shape)}')
        if self.host_mask.device.type != 'cpu':
            raise ValueError('ForwardRecord.host_mask must be on the CPU, got '
                             f'{self.host_mask.device}')

    @property
    def batch_size(self) -> int:
        return self.inputs.shape[0]

    def present_modalities(self) -> List[str]:
        """Modalities present in at least one sample (from the host copy)."""
        any_row = self.host_mask.any(0).tolist()
        return [n for n, p in zip(self.layout.names, any_row) if p]

    def get(self, name: str):
        """A field by name, with a clear error where it was not recorded.

        ``name`` is a field of the record (``'neck_feats'``,
        ``'fused_feats'``, ``'head_logits'``, ...) or ``'extras.<key>'``.
        """
        if name.startswith('extras.'):
            key = name[len('extras.'):]
            if key not in self.extras:
                raise KeyError(
                    f'the forward recorded no extras[{key!r}] (recorded: '
                    f'{sorted(self.extras)}); is the module that gives it '
                    '(e.g. ProbabilisticEmbeddingNeck) in the model?')
            return self.extras[key]
        if name not in self.__dataclass_fields__:
            raise KeyError(f'ForwardRecord has no field {name!r}; fields: '
                           f'{sorted(self.__dataclass_fields__)}')
        value = getattr(self, name)
        if value is None:
            raise ValueError(
                f'the forward did not record {name!r} for this model '
                f'(task {self.task!r}); e.g. modal_feats needs a backbone '
                'with per-modality encoders, modal_logits late fusion')
        return value
