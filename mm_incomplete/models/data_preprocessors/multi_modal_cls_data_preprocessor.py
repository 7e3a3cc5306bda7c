"""Classification data preprocessor for stacked modalities.

Shorthand: B batch, M modalities, C stacked channels, H x W.

Order of operations: RGB-slice channel swap -> float -> per-modality
normalisation -> mmpretrain's padding/stacking, label handling and batch
augmentations (Mixup/CutMix) -> modality mask (drawn in training, the test
combination in evaluation) with the channels of masked modalities zeroed.
"""
from numbers import Number
from typing import Optional

from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor
from mmpretrain.registry import MODELS

from .modality_processing import ModalityProcessingMixin


@MODELS.register_module()
class MultiModalClsDataPreProcessor(ModalityProcessingMixin,
                                    ClsDataPreprocessor):
    """mmpretrain ``ClsDataPreprocessor`` with per-modality statistics and a
    modality mask.

    Args:
        modalities (str | dict): the modality layout, e.g.
            ``dict(rgb=3, depth=1)``: the model's one declaration of it
            (the task model hands it to the backbone, heads and method
            losses).
        mean (dict, optional): ``{name: [C_m values] or one value}`` for
            every modality, in the channel order *after* any swap. ``None``
            (with ``std=None``) disables normalisation.
        std (dict, optional): same layout as ``mean``.
        pad_size_divisor (int): pad H and W to multiples of this.
        pad_value (Number): padding value of the (normalised) inputs.
        bgr_to_rgb (bool): inputs hold BGR; flip the channels of
            ``rgb_modality`` only (our loader gives RGB: default False).
        rgb_to_bgr (bool): flip ``rgb_modality`` to BGR.
        rgb_modality (str): the 3-channel modality the swaps act on.
        to_onehot (bool): one-hot labels, as in mmpretrain.
        num_classes (int, optional): number of classes, for ``to_onehot``.
        batch_augments (dict, optional): mmpretrain ``RandomBatchAugment``
            settings (``augments``, ``probs``).
        train_sampler (dict | str, optional): policy drawing the training
            mask, e.g. ``dict(type='ModDrop', drop_prob=0.5)``; ``None``
            keeps every modality.
        test_combination (str | list, optional): combination used in
            evaluation; ``None`` is every modality.

    Example:
        >>> import torch
        >>> from mmpretrain.structures import DataSample
        >>> pre = MultiModalClsDataPreProcessor(
        ...     modalities=dict(rgb=3, depth=1),
        ...     mean=dict(rgb=[120., 110., 100.], depth=3.),
        ...     std=dict(rgb=[60., 60., 60.], depth=1.),
        ...     train_sampler=dict(type='FixedCombination',
        ...                        combination='depth'))
        >>> data = dict(inputs=[torch.full((4, 8, 8), 3.)],
        ...             data_samples=[DataSample().set_gt_label(1)])
        >>> out = pre(data, training=True)
        >>> out['inputs'][0, :, 0, 0], out['data_samples'][0].modality_mask
        (tensor([0., 0., 0., 0.]), tensor([False,  True]))
    """

    def __init__(self,
                 modalities=None,
                 mean: Optional[dict] = None,
                 std: Optional[dict] = None,
                 pad_size_divisor: int = 1,
                 pad_value: Number = 0,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 rgb_modality: str = 'rgb',
                 to_onehot: bool = False,
                 num_classes: Optional[int] = None,
                 batch_augments: Optional[dict] = None,
                 train_sampler=None,
                 test_combination=None):
        super().__init__(
            mean=None,
            std=None,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            to_rgb=False,
            to_onehot=to_onehot,
            num_classes=num_classes,
            batch_augments=batch_augments)
        self._init_modalities(modalities, mean, std, bgr_to_rgb, rgb_to_bgr,
                              rgb_modality, train_sampler, test_combination)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise, pad, stack and mask a batch from the dataloader.

        Args:
            data (dict): ``inputs`` ((B, C, H, W) or a list of (C, H, W))
                and ``data_samples``.
            training (bool): draw the training mask and run batch augments.

        Returns:
            dict: ``inputs`` (B, C, H, W) float and ``data_samples`` with
            their ``modality_mask`` set.
        """
        inputs = self._normalize_inputs(self.cast_data(data['inputs']))
        out = super().forward(dict(data, inputs=inputs), training)
        out['inputs'] = self._apply_modality_mask(
            out['inputs'], out['data_samples'], training)
        return out
