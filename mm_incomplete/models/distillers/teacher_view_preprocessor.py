"""The distiller's data preprocessor: the student's, plus the teacher's view.

Shorthand: B batch, M modalities, C stacked channels, H x W input size.

In training a batch is preprocessed once with every modality kept (the full
view, augmented once), then

    student view: the mask drawn by the student preprocessor's
                  ``train_sampler`` (or the samples' own), masked channels
                  zeroed, exactly as the student preprocessor does;
    teacher view: the full view under ``teacher_combination``.

Both go out of ``forward`` as one dict (``inputs``, ``data_samples``,
``teacher_inputs``, ``teacher_samples``), so mmengine's ``train_step`` and
its DDP wrapper (which calls the preprocessor and then ``forward(**data)``
itself) hand both views to the distiller. In evaluation it is the student
preprocessor unchanged.
"""
from typing import Union

import torch
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import BaseDataElement

from mm_incomplete.modality import (MASK_FIELD, ModalityLayout,
                                    set_modality_masks)


class _KeepAll:
    """A sampling policy that keeps every modality (the full view)."""

    def __call__(self, batch_size: int,
                 layout: ModalityLayout) -> torch.Tensor:
        return torch.ones(batch_size, len(layout), dtype=torch.bool)


class TeacherViewPreprocessor(BaseDataPreprocessor):
    """Wrap a multi-modal preprocessor to also give the teacher's view.

    Args:
        preprocessor (nn.Module): the student's data preprocessor
            (``MultiModalSegDataPreProcessor`` /
            ``MultiModalClsDataPreProcessor``).
        teacher_combination (str | list | None): the teacher's modalities;
            ``None`` is every modality.

    Attributes other than its own (``layout``, ``test_combination``,
    ``train_sampler`` ...) are those of the wrapped preprocessor.

    Example:
        >>> from mm_incomplete.models.data_preprocessors import \\
        ...     MultiModalSegDataPreProcessor
        >>> from mmseg.structures import SegDataSample
        >>> pre = TeacherViewPreprocessor(MultiModalSegDataPreProcessor(
        ...     modalities=dict(rgb=3, depth=1), size=(8, 8),
        ...     train_sampler=dict(type='FixedCombination',
        ...                        combination='rgb')))
        >>> out = pre(dict(inputs=[torch.ones(4, 8, 8)],
        ...                data_samples=[SegDataSample()]), training=True)
        >>> x_s, x_t = out['inputs'], out['teacher_inputs']
        >>> x_s[0, 3].sum().item(), x_t[0, 3].sum().item()
        (0.0, 64.0)
    """

    def __init__(self, preprocessor, teacher_combination=None):
        super().__init__()
        layout = getattr(preprocessor, 'layout', None)
        if not isinstance(layout, ModalityLayout) or \
                not hasattr(preprocessor, '_apply_modality_mask'):
            raise TypeError(
                'a distiller needs a multi-modal data preprocessor in the '
                'student config (MultiModalSegDataPreProcessor / '
                f'MultiModalClsDataPreProcessor), got '
                f'{type(preprocessor).__name__}')
        self.preprocessor = preprocessor
        self.layout = layout
        self.teacher_combination = layout.full \
            if teacher_combination is None else \
            layout.parse_combination(teacher_combination,
                                     'teacher_combination')

    @property
    def test_combination(self):
        """The wrapped preprocessor's evaluation combination."""
        return self.preprocessor.test_combination

    @test_combination.setter
    def test_combination(self, spec: Union[None, str, list]) -> None:
        self.preprocessor.test_combination = spec

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == 'preprocessor' or name.startswith('__'):
                raise
            return getattr(super().__getattr__('preprocessor'), name)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Student and teacher views in training, the student's otherwise.

        Returns:
            dict: ``inputs`` (B, C, H, W) and ``data_samples`` of the
            student; in training also ``teacher_inputs`` (B, C, H, W) and
            ``teacher_samples`` (meta information and the teacher's mask).
        """
        pre = self.preprocessor
        if not training:
            return pre(data, False)
        own = [s.get(MASK_FIELD, None) is not None
               for s in (data.get('data_samples') or [])]
        sampler = pre.train_sampler
        pre.train_sampler = _KeepAll()
        try:
            full = pre(data, True)
        finally:
            pre.train_sampler = sampler
        inputs_full, samples = full['inputs'], full['data_samples']
        for sample, had_own in zip(samples, own):
            if not had_own:
                delattr(sample, MASK_FIELD)
        inputs = pre._apply_modality_mask(inputs_full, samples, True)

        batch = inputs_full.shape[0]
        # on the host, like the student's mask (no synchronisation)
        t_mask = self.layout.combination_mask(
            self.teacher_combination).expand(batch, -1)
        teacher_samples = [BaseDataElement(metainfo=s.metainfo)
                           for s in samples]
        set_modality_masks(teacher_samples, t_mask)
        teacher_inputs = inputs_full
        if not bool(t_mask.all()):
            keep = self.layout.channel_mask(t_mask)[:, :, None, None]
            teacher_inputs = inputs_full.masked_fill(
                ~keep.to(inputs_full.device, non_blocking=True), 0)
        return dict(inputs=inputs, data_samples=samples,
                    teacher_inputs=teacher_inputs,
                    teacher_samples=teacher_samples)
