"""Segmentation data preprocessor for stacked modalities.

Shorthand: B batch, M modalities, C stacked channels, H x W.

Order of operations: RGB-slice channel swap -> float -> per-modality
normalisation -> mmseg's padding/stacking (``size`` / ``size_divisor``,
``pad_val`` in normalised units, ``seg_pad_val`` for the labels) -> batch
augmentations (training) -> modality mask (drawn in training, the test
combination in evaluation) with the channels of masked modalities zeroed.
"""
from numbers import Number
from typing import Any, Dict, List, Optional

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

from .modality_processing import ModalityProcessingMixin, build_batch_augments


@MODELS.register_module()
class MultiModalSegDataPreProcessor(ModalityProcessingMixin,
                                    SegDataPreProcessor):
    """mmseg ``SegDataPreProcessor`` with per-modality statistics and a mask.

    Args:
        modalities (str | dict): the modality layout, e.g.
            ``dict(rgb=3, depth=1)``: the model's one declaration of it
            (the task model hands it to the backbone, heads and method
            losses).
        mean (dict, optional): ``{name: [C_m values] or one value}`` for
            every modality, in the channel order *after* any swap. ``None``
            (with ``std=None``) disables normalisation.
        std (dict, optional): same layout as ``mean``.
        size (tuple, optional): fixed padding size (H, W).
        size_divisor (int, optional): pad H and W to multiples of this.
            With neither ``size`` nor ``size_divisor``, training batches are
            padded to their largest image (mmseg would fail an assertion).
        pad_val (Number): padding value of the (normalised) inputs.
        seg_pad_val (Number): padding value of the labels. Defaults to 255.
        bgr_to_rgb (bool): inputs hold BGR; flip the channels of
            ``rgb_modality`` only. Our loader already gives RGB, so the
            default is False.
        rgb_to_bgr (bool): flip ``rgb_modality`` to BGR (e.g. for weights
            trained on BGR).
        rgb_modality (str): the 3-channel modality the swaps act on.
        batch_augments (list[dict], optional): mmseg batch augmentations,
            each called as ``aug(inputs, data_samples)`` in training.
        test_cfg (dict, optional): ``size`` / ``size_divisor`` padding at
            test time, as in mmseg.
        train_sampler (dict | str, optional): policy drawing the training
            mask, e.g. ``dict(type='ModDrop', drop_prob=0.5)``; ``None``
            keeps every modality.
        test_combination (str | list, optional): combination used in
            evaluation, e.g. ``'rgb'``; ``None`` is every modality. The
            attribute can be changed at run time (``tools/test.py
            --modalities``).

    Example:
        >>> import torch
        >>> from mmseg.structures import SegDataSample
        >>> pre = MultiModalSegDataPreProcessor(
        ...     modalities=dict(rgb=3, depth=1),
        ...     mean=dict(rgb=[120., 110., 100.], depth=[3.]),
        ...     std=dict(rgb=[60., 60., 60.], depth=[1.]),
        ...     test_combination='rgb')
        >>> data = dict(inputs=[torch.full((4, 8, 8), 3.)],
        ...             data_samples=[SegDataSample()])
        >>> out = pre(data, training=False)
        >>> out['inputs'][0, :, 0, 0], out['data_samples'][0].modality_mask
        (tensor([-1.9500, -1.7833, -1.6167,  0.0000]), tensor([ True, False]))
    """

    def __init__(self,
                 modalities=None,
                 mean: Optional[dict] = None,
                 std: Optional[dict] = None,
                 size: Optional[tuple] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: Number = 0,
                 seg_pad_val: Number = 255,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 rgb_modality: str = 'rgb',
                 batch_augments: Optional[List[dict]] = None,
                 test_cfg: Optional[dict] = None,
                 train_sampler=None,
                 test_combination=None):
        super().__init__(
            mean=None,
            std=None,
            size=size,
            size_divisor=1 if size is None and size_divisor is None else
            size_divisor,
            pad_val=pad_val,
            seg_pad_val=seg_pad_val,
            test_cfg=test_cfg)
        self._init_modalities(modalities, mean, std, bgr_to_rgb, rgb_to_bgr,
                              rgb_modality, train_sampler, test_combination)
        # the host calls ``self.batch_augments`` as one callable, which a
        # list of configs is not; they are built and applied here instead
        self.batch_augments = None
        self.augments = build_batch_augments(batch_augments, MODELS)

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalise, pad, stack and mask a batch from the dataloader.

        Args:
            data (dict): ``inputs`` (list of (C, H, W)) and ``data_samples``.
            training (bool): draw the training mask and run batch augments.

        Returns:
            dict: ``inputs`` (B, C, H, W) float and ``data_samples`` with
            their ``modality_mask`` set.
        """
        data = self.cast_data(data)
        data['inputs'] = self._normalize_inputs(data['inputs'])
        out = super().forward(data, training)
        inputs, data_samples = out['inputs'], out['data_samples']
        if training and self.augments is not None:
            for aug in self.augments:
                inputs, data_samples = aug(inputs, data_samples)
        inputs = self._apply_modality_mask(inputs, data_samples, training)
        return dict(inputs=inputs, data_samples=data_samples)
