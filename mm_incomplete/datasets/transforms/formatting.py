"""Pack stacked modalities for the model: (H, W, C) array -> (C, H, W) tensor.

Shorthand: C stacked channels (sum over modalities), H x W spatial size.

``PackMultiModalSegInputs`` (mmseg ``TRANSFORMS``) gives a ``SegDataSample``;
``PackMultiModalClsInputs`` (mmpretrain ``TRANSFORMS``) gives mmpretrain's
``DataSample``. Both keep ``modalities`` and ``modality_paths`` in the meta
information and always produce float32 inputs (depth in metres must not be
truncated to uint8).
"""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmpretrain.registry import TRANSFORMS as CLS_TRANSFORMS
from mmpretrain.structures import DataSample
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS
from mmseg.structures import SegDataSample

SEG_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                 'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                 'reduce_zero_label', 'modalities', 'modality_channels',
                 'modality_kinds', 'modality_paths')
CLS_META_KEYS = ('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                 'scale_factor', 'flip', 'flip_direction', 'modalities',
                 'modality_channels', 'modality_kinds', 'modality_paths')


def to_chw_float(img: np.ndarray, results: dict) -> torch.Tensor:
    """(H, W, C) array -> contiguous (C, H, W) float32 tensor, checked."""
    if img.ndim == 2:
        img = img[..., None]
    chans = results.get('modality_channels')
    if chans is not None and img.shape[2] != sum(chans):
        raise ValueError(f'`img` has {img.shape[2]} channels but the '
                         f'modalities {list(results.get("modalities", []))} '
                         f'have {sum(chans)}')
    img = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(img)


@SEG_TRANSFORMS.register_module()
class PackMultiModalSegInputs(BaseTransform):
    """Pack ``img`` (H, W, C) and ``gt_seg_map`` (H, W) for a segmentor.

    Output: ``inputs`` (C, H, W) float32 and ``data_samples`` (a
    ``SegDataSample`` with ``gt_sem_seg`` (1, H, W) int64 and the meta keys).

    Args:
        meta_keys (Sequence[str]): keys copied to the sample's metainfo.

    Example:
        >>> import numpy as np
        >>> out = PackMultiModalSegInputs()(dict(
        ...     img=np.zeros((2, 3, 4), np.float32),
        ...     gt_seg_map=np.zeros((2, 3), np.uint8)))
        >>> tuple(out['inputs'].shape), out['inputs'].dtype
        ((4, 2, 3), torch.float32)
    """

    def __init__(self, meta_keys=SEG_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        packed = dict(inputs=to_chw_float(results['img'], results))
        sample = SegDataSample()
        if 'gt_seg_map' in results:
            seg = results['gt_seg_map']
            if seg.ndim != 2:
                raise ValueError('`gt_seg_map` must be (H, W), got shape '
                                 f'{seg.shape}')
            sample.gt_sem_seg = PixelData(
                data=torch.from_numpy(seg[None].astype(np.int64)))
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        packed['data_samples'] = sample
        return packed

    def __repr__(self):
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'


@CLS_TRANSFORMS.register_module()
class PackMultiModalClsInputs(BaseTransform):
    """Pack ``img`` (H, W, C) and ``gt_label`` for a classifier.

    Output: ``inputs`` (C, H, W) float32 and ``data_samples`` (mmpretrain
    ``DataSample`` with ``gt_label`` and the meta keys).

    Args:
        meta_keys (Sequence[str]): keys copied to the sample's metainfo.

    Example:
        >>> import numpy as np
        >>> out = PackMultiModalClsInputs()(dict(
        ...     img=np.zeros((2, 3, 4), np.float32), gt_label=1))
        >>> tuple(out['inputs'].shape), out['data_samples'].gt_label.tolist()
        ((4, 2, 3), [1])
    """

    def __init__(self, meta_keys=CLS_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        packed = dict(inputs=to_chw_float(results['img'], results))
        sample = DataSample()
        if 'gt_label' in results:
            sample.set_gt_label(results['gt_label'])
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        packed['data_samples'] = sample
        return packed

    def __repr__(self):
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
