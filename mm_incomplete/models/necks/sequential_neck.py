"""Necks applied one after the other.

Shorthand: B batch, C channels, L feature levels.

E.g. DMRNet in classification embeds the pooled fused vector:
``neck=dict(type='SequentialNeck', necks=[dict(type='GlobalAveragePooling'),
dict(type='ProbabilisticEmbeddingNeck', in_channels=[C])])``. What each neck
records (``forward_record``) is merged into the forward record's extras.
"""
from typing import Sequence

from mmengine.model import BaseModule, ModuleList
from mmengine.registry import MODELS

from ..utils.task_modules import build_task_module


@MODELS.register_module()
class SequentialNeck(BaseModule):
    """Run necks in order; ``forward_record`` gathers their records.

    Args:
        necks (list[dict]): neck configs (mmseg, mmpretrain or task-agnostic
            types).
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> import torch
        >>> neck = SequentialNeck([
        ...     dict(type='GlobalAveragePooling'),
        ...     dict(type='ProbabilisticEmbeddingNeck', in_channels=[8])])
        >>> outs, extras = neck.forward_record((torch.rand(2, 8, 4, 4), ))
        >>> outs[0].shape, sorted(extras)
        (torch.Size([2, 8]), ['embedding_stats'])
    """

    def __init__(self, necks: Sequence[dict], init_cfg=None):
        super().__init__(init_cfg)
        if not isinstance(necks, (list, tuple)) or not necks:
            raise ValueError('SequentialNeck.necks must be a non-empty list '
                             f'of neck configs, got {necks!r}')
        self.necks = ModuleList(
            build_task_module(cfg, f'SequentialNeck.necks[{i}]')[0]
            for i, cfg in enumerate(necks))

    def forward_record(self, x):
        extras = {}
        for i, neck in enumerate(self.necks):
            record = getattr(neck, 'forward_record', None)
            if record is None:
                x = neck(x)
                continue
            x, more = record(x)
            clash = sorted(set(more) & set(extras))
            if clash:
                raise KeyError(f'SequentialNeck.necks[{i}] records {clash}, '
                               'which an earlier neck recorded too')
            extras.update(more)
        return x, extras

    def forward(self, x):
        return self.forward_record(x)[0]
