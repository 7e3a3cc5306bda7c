"""Deprecated: DMRNet is now a composition on MultiModalEncoderDecoder.

Shorthand: B batch, M modalities.

``DMRNetEncoderDecoder`` is kept only so that old configs build; it maps its
arguments to the plug-in form and warns:

    neck=ProbabilisticEmbeddingNeck                    (unchanged)
    kl_loss=dict(type='GaussianKLLoss', loss_weight=w) -> method_losses +=
        dict(type='ProbabilisticEmbeddingKL', loss_weight=w)
    auxiliary_head=dict(type='CombinationRegularizerSegHead', ...) ->
        method_losses += dict(type='CombinationRegularizer', ...,
                              mining_score='embedding_variance')

See ``configs/dmrnet/_base_/`` for the plug-in form. A
``LossScaleWarmupHook`` naming ``auxiliary_head`` / ``kl_loss`` must name
``method_losses`` instead.
"""
import warnings
from typing import Dict, Optional

from mmseg.registry import MODELS

from .multi_modal_encoder_decoder import MultiModalEncoderDecoder


def dmrnet_method_losses(kl_loss: Optional[dict], aux: Optional[dict],
                         aux_type: str, option: str,
                         more: Optional[dict] = None) -> Dict[str, dict]:
    """The ``method_losses`` of DMRNet's deprecated model arguments (named
    as in ``configs/dmrnet``), followed by ``more``."""
    methods = {}
    if aux is not None:
        aux = dict(aux)
        typ = aux.pop('type', None)
        if typ != aux_type:
            raise ValueError(f'`{option}` of a deprecated DMRNet model must '
                             f'be a {aux_type}, got {typ!r}')
        methods['hard_combination'] = dict(
            aux, type='CombinationRegularizer', prefix='aux',
            mining_score='embedding_variance')
    if kl_loss is not None:
        kl_loss = dict(kl_loss)
        if kl_loss.pop('type', 'GaussianKLLoss') != 'GaussianKLLoss':
            raise ValueError('`kl_loss` of a deprecated DMRNet model must be '
                             f'a GaussianKLLoss, got {kl_loss!r}')
        methods['kl'] = dict(kl_loss, type='ProbabilisticEmbeddingKL')
    if more is not None and not isinstance(more, dict):
        raise TypeError('a deprecated DMRNet model takes extra '
                        f'`method_losses` as a dict, got {more!r}')
    methods.update(more or {})
    return methods


@MODELS.register_module()
class DMRNetEncoderDecoder(MultiModalEncoderDecoder):
    """Deprecated alias: builds the plug-in form of DMRNet.

    Args:
        neck (dict): a :class:`ProbabilisticEmbeddingNeck` config.
        kl_loss (dict): a ``GaussianKLLoss`` config (its weight).
        auxiliary_head (dict, optional): a
            :class:`CombinationRegularizerSegHead` config.
        **kwargs: the other :class:`MultiModalEncoderDecoder` arguments.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter('always')
        ...     model = DMRNetEncoderDecoder(
        ...         backbone=dict(type='MultiBranchResNet',
        ...                       modalities=dict(rgb=3, depth=1), depth=18,
        ...                       base_channels=8),
        ...         neck=dict(type='ProbabilisticEmbeddingNeck',
        ...                   in_channels=[8, 16, 32, 64]),
        ...         decode_head=dict(type='FCNHead', in_channels=64,
        ...                          in_index=3, channels=16, num_classes=5))
        >>> caught[0].category.__name__
        'DeprecationWarning'
        >>> [type(m).__name__ for m in model.method_losses.values()]
        ['ProbabilisticEmbeddingKL']
    """

    def __init__(self,
                 *args,
                 neck: Optional[dict] = None,
                 kl_loss: dict = dict(type='GaussianKLLoss', loss_weight=1e-3),
                 auxiliary_head: Optional[dict] = None,
                 method_losses: Optional[dict] = None,
                 **kwargs):
        warnings.warn(
            'DMRNetEncoderDecoder is deprecated: use MultiModalEncoderDecoder '
            "with neck=ProbabilisticEmbeddingNeck and method_losses=["
            "CombinationRegularizer(mining_score='embedding_variance'), "
            'ProbabilisticEmbeddingKL] (configs/dmrnet/_base_/)',
            DeprecationWarning, stacklevel=2)
        if not isinstance(neck, dict) or \
                neck.get('type') != 'ProbabilisticEmbeddingNeck':
            raise TypeError(
                f'{type(self).__name__} needs `neck` to be a '
                'ProbabilisticEmbeddingNeck (the probabilistic embedding), '
                f'got {neck!r}')
        methods = dmrnet_method_losses(kl_loss, auxiliary_head,
                                       'CombinationRegularizerSegHead',
                                       'auxiliary_head', method_losses)
        super().__init__(*args, neck=neck, method_losses=methods, **kwargs)
