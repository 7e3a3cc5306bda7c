"""Deprecated: DMRNet is now a composition on MultiModalImageClassifier.

Shorthand: B batch, C channels.

``DMRNetImageClassifier`` is kept only so that old configs build; it maps
its arguments to the plug-in form and warns:

    neck=N, probabilistic_embedding=dict(in_channels=C) ->
        neck=dict(type='SequentialNeck', necks=[N,
                  dict(type='ProbabilisticEmbeddingNeck', in_channels=[C])])
    kl_loss -> method_losses += ProbabilisticEmbeddingKL
    aux_head=CombinationRegularizerClsHead -> method_losses +=
        CombinationRegularizer(mining_score='embedding_variance')

See ``configs/dmrnet/synthetic_cls_cpu.py`` for the plug-in form.
"""
import warnings
from typing import Optional

from mmpretrain.registry import MODELS

from ..segmentors.dmrnet_encoder_decoder import dmrnet_method_losses
from .multi_modal_image_classifier import MultiModalImageClassifier


@MODELS.register_module()
class DMRNetImageClassifier(MultiModalImageClassifier):
    """Deprecated alias: builds the plug-in form of DMRNet.

    Args:
        backbone (dict): a multi-modal backbone.
        probabilistic_embedding (dict): ``dict(type='ProbabilisticEmbedding',
            in_channels=C)`` (``out_channels``, if given, must equal C).
        kl_loss (dict): a ``GaussianKLLoss`` config (its weight).
        aux_head (dict, optional): a :class:`CombinationRegularizerClsHead`
            config.
        **kwargs: the other :class:`MultiModalImageClassifier` arguments.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter('always')
        ...     model = DMRNetImageClassifier(
        ...         backbone=dict(type='MultiBranchResNet',
        ...                       modalities=dict(rgb=3, depth=1), depth=18,
        ...                       base_channels=8, out_indices=(3, )),
        ...         neck=dict(type='GlobalAveragePooling'),
        ...         probabilistic_embedding=dict(
        ...             type='ProbabilisticEmbedding', in_channels=64),
        ...         head=dict(type='LinearClsHead', num_classes=5,
        ...                   in_channels=64))
        >>> caught[0].category.__name__, type(model.neck).__name__
        ('DeprecationWarning', 'SequentialNeck')
    """

    def __init__(self,
                 backbone: dict,
                 *args,
                 neck: Optional[dict] = None,
                 probabilistic_embedding: Optional[dict] = None,
                 kl_loss: dict = dict(type='GaussianKLLoss', loss_weight=1e-3),
                 aux_head: Optional[dict] = None,
                 method_losses: Optional[dict] = None,
                 **kwargs):
        warnings.warn(
            'DMRNetImageClassifier is deprecated: use '
            'MultiModalImageClassifier with a SequentialNeck ending in '
            'ProbabilisticEmbeddingNeck and method_losses=['
            'CombinationRegularizer, ProbabilisticEmbeddingKL] '
            '(configs/dmrnet/synthetic_cls_cpu.py)', DeprecationWarning,
            stacklevel=2)
        if not isinstance(probabilistic_embedding, dict):
            raise TypeError(
                f'{type(self).__name__} needs `probabilistic_embedding`, e.g. '
                "dict(type='ProbabilisticEmbedding', in_channels=...), got "
                f'{probabilistic_embedding!r}')
        emb = dict(probabilistic_embedding)
        channels = emb.get('in_channels')
        if emb.get('out_channels', channels) != channels:
            raise ValueError('probabilistic_embedding.out_channels must equal '
                             f'in_channels in the plug-in form, got {emb}')
        embed = dict(type='ProbabilisticEmbeddingNeck',
                     in_channels=[channels], in_index=-1)
        neck = dict(type='SequentialNeck',
                    necks=([neck] if neck else []) + [embed])
        methods = dmrnet_method_losses(kl_loss, aux_head,
                                       'CombinationRegularizerClsHead',
                                       'aux_head', method_losses)
        super().__init__(backbone, *args, neck=neck, method_losses=methods,
                         **kwargs)
