"""Load a semantic label map that matches the stacked modalities: H x W.

Shorthand: H x W spatial size.
"""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from .io import describe, read_image


@TRANSFORMS.register_module()
class LoadMultiModalAnnotations(BaseTransform):
    """Load ``gt_seg_map`` (H, W) uint8 and check it against the modalities.

    The label file must be a single-channel 8- or 16-bit image of class ids.
    With ``reduce_zero_label`` (taken from the dataset, e.g. NYUDv2 where 0 is
    "unlabeled") id 0 becomes the ignore index 255 and ids 1..K become
    0..K-1. The dataset's ``label_map`` (custom class subsets) is applied
    after that, as in mmseg.

    Required keys: ``seg_map_path``. When the modalities were loaded first
    (``ori_shape``, ``img_path``), the label must have their original size.

    Added keys: ``gt_seg_map`` (H, W) uint8, ``seg_fields``.

    With ``num_classes`` in the results (the dataset puts it there), a class
    id >= ``num_classes`` other than ``ignore_index`` (255) is an error naming
    the file and the ids: training would fail in the loss without naming the
    file, and the metrics would silently skip those pixels.

    Args:
        reduce_zero_label (bool, optional): override the dataset's setting.
        backend_args (dict, optional): mmengine file backend arguments.

    Example:
        >>> import numpy as np, cv2, tempfile, os.path as osp
        >>> p = osp.join(tempfile.mkdtemp(), 'l.png')
        >>> cv2.imwrite(p, np.array([[0, 1, 2]], np.uint8))
        True
        >>> out = LoadMultiModalAnnotations()(
        ...     dict(seg_map_path=p, reduce_zero_label=True))
        >>> out['gt_seg_map'].tolist()
        [[255, 0, 1]]
    """

    def __init__(self,
                 reduce_zero_label: Optional[bool] = None,
                 backend_args: Optional[dict] = None):
        self.reduce_zero_label = reduce_zero_label
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['seg_map_path']
        label = read_image(path, 'label', self.backend_args)
        if label.ndim == 3 and label.shape[2] == 1:
            label = label[..., 0]
        if label.ndim != 2 or label.dtype not in (np.uint8, np.uint16):
            raise ValueError(f'label file {path} is {describe(label)}; '
                             'expected a single-channel uint8 or uint16 '
                             'image of class ids')
        # compare with the modalities as loaded (a test pipeline may resize
        # the image before loading the full-resolution label)
        ref = results.get('ori_shape')
        if ref is None and 'img' in results:
            ref = results['img'].shape[:2]
        if ref is not None and tuple(ref[:2]) != label.shape:
            h, w = ref[:2]
            raise ValueError(
                f'label and modalities differ in size: {path} is '
                f'{label.shape[0]}x{label.shape[1]} but '
                f'{results.get("img_path", "the modalities")} is {h}x{w} '
                '(H x W)')
        label = label.astype(np.int64)
        reduce = self.reduce_zero_label
        if reduce is None:
            reduce = results.get('reduce_zero_label', False)
        if reduce:
            # 0 -> 255 (ignored), k -> k - 1, an existing 255 stays 255
            label = np.where((label == 0) | (label == 255), 256, label) - 1
        label_map = results.get('label_map')
        if label_map:
            mapped = label.copy()
            for old, new in label_map.items():
                mapped[label == old] = new
            label = mapped
        if label.max(initial=0) > 255:
            raise ValueError(f'label file {path} has class id '
                             f'{int(label.max())} > 255, which does not fit '
                             'the uint8 label map (255 = ignore)')
        num_classes = results.get('num_classes')
        if num_classes is not None:
            ignore = results.get('ignore_index', 255)
            bad = np.unique(label[(label >= num_classes) & (label != ignore)])
            if bad.size:
                raise ValueError(
                    f'label file {path} has class id(s) '
                    f'{bad[:10].tolist()} (after reduce_zero_label='
                    f'{bool(reduce)} and the label map) outside 0..'
                    f'{num_classes - 1} ({num_classes} classes; '
                    f'{ignore} = ignore)')
        results['gt_seg_map'] = label.astype(np.uint8)
        results['reduce_zero_label'] = bool(reduce)
        results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in results['seg_fields']:
            results['seg_fields'].append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'reduce_zero_label={self.reduce_zero_label})')
