"""Multi-modal semantic segmentation dataset over one folder per modality.

Shorthand: M modalities.

On-disk layout (shared by NYUDv2, SUN RGB-D and the synthetic set)::

    data_root/
      rgb/<split>/<name><suffix>        one folder per modality
      depth/<split>/<name>.png          uint16, millimetres, 0 = hole
      hha/<split>/<name>.png            (optional modalities)
      <label_dir>/<split>/<name>.png    uint8 class ids

Samples are the files of the first modality of ``modalities`` (sorted), or
the names listed in ``ann_file`` (one name per line, no suffix).
"""
import os.path as osp
from typing import Dict, Optional

import mmengine
from mmengine import fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from mm_incomplete.modality import ModalityLayout
from .pipeline_layout import fill_pipeline_layout


@DATASETS.register_module()
class MultiModalSegDataset(BaseSegDataset):
    """Segmentation samples made of one file per modality plus a label map.

    Each data info holds ``modality_paths`` ({name: path}), ``img_path``
    (the RGB file, else the first modality's) and ``seg_map_path``; load them
    with ``LoadMultiModalImages`` and ``LoadMultiModalAnnotations``.

    Args:
        modalities (dict | str): the layout, e.g. ``dict(rgb=3, depth=1)``;
            only the names are used here (which folders to read).
            The dataset hands it to every ``LoadMultiModalImages`` step of
            ``pipeline`` that names no ``modalities`` (one that does must
            agree).
        split (str): the split folder, e.g. ``'train'``.
        label_dir (str): folder of the label maps. Defaults to ``'label'``.
        suffixes (dict[str, str], optional): file suffix per modality;
            ``'.png'`` where not given.
        seg_map_suffix (str): suffix of the label maps.
        data_prefix (dict, optional): explicit folders ``{modality: dir,
            'seg_map_path': dir}`` relative to ``data_root``; overrides
            ``split``/``label_dir``.
        ann_file (str): optional text file of sample names.
        check_files (bool): check at start-up that every file exists, so a
            missing file fails early and is named. Defaults to True.
        **kwargs: passed to ``mmseg.datasets.BaseSegDataset``
            (``data_root``, ``pipeline``, ``reduce_zero_label``, ...).

    Example:
        >>> import numpy as np, cv2, os, tempfile, os.path as osp
        >>> root = tempfile.mkdtemp()
        >>> for d, arr in (('rgb', np.zeros((2, 2, 3), np.uint8)),
        ...                ('depth', np.ones((2, 2), np.uint16)),
        ...                ('label', np.zeros((2, 2), np.uint8))):
        ...     os.makedirs(osp.join(root, d, 'train'))
        ...     _ = cv2.imwrite(osp.join(root, d, 'train', 'a.png'), arr)
        >>> ds = MultiModalSegDataset(dict(rgb=3, depth=1), split='train',
        ...                           data_root=root,
        ...                           metainfo=dict(classes=('x', 'y')))
        >>> sorted(ds[0]['modality_paths'])
        ['depth', 'rgb']
    """

    METAINFO = dict()

    def __init__(self,
                 modalities,
                 split: str = 'train',
                 label_dir: str = 'label',
                 suffixes: Optional[Dict[str, str]] = None,
                 seg_map_suffix: str = '.png',
                 data_prefix: Optional[dict] = None,
                 ann_file: str = '',
                 check_files: bool = True,
                 **kwargs):
        self.layout = ModalityLayout(modalities, 'modalities')
        kwargs['pipeline'] = fill_pipeline_layout(
            kwargs.get('pipeline', []), self.layout, type(self).__name__)
        suffixes = dict(suffixes or {})
        unknown = sorted(set(suffixes) - set(self.layout.names))
        if unknown:
            raise ValueError(f'`suffixes` names {unknown}, which are not in '
                             f'`modalities` {list(self.layout.names)}')
        self.suffixes = {
            n: suffixes.get(n, '.png')
            for n in self.layout.names
        }
        if data_prefix is None:
            data_prefix = {n: osp.join(n, split) for n in self.layout.names}
            data_prefix['seg_map_path'] = osp.join(label_dir, split)
        else:
            missing = [n for n in self.layout.names if n not in data_prefix]
            if missing:
                raise ValueError(f'`data_prefix` has no folder for '
                                 f'modalities {missing}; give one per '
                                 f'modality of {list(self.layout.names)}')
        self.split = split
        self.check_files = check_files
        super().__init__(
            ann_file=ann_file,
            img_suffix=self.suffixes[self.layout.names[0]],
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            **kwargs)

    def _names(self):
        """Sample names: from ``ann_file`` or the first modality's folder."""
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(
                    f'`ann_file` not found: {self.ann_file}')
            return [
                line.strip() for line in mmengine.list_from_file(
                    self.ann_file, backend_args=self.backend_args)
                if line.strip()
            ]
        first = self.layout.names[0]
        folder = self.data_prefix[first]
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'folder of modality {first!r} not found: {folder} '
                f'(data_root={self.data_root!r})')
        suffix = self.suffixes[first]
        files = fileio.list_dir_or_file(
            folder, list_dir=False, suffix=suffix, recursive=True,
            backend_args=self.backend_args)
        return sorted(f[:-len(suffix)] for f in files)

    def load_data_list(self):
        data_list = []
        ann_dir = self.data_prefix.get('seg_map_path')
        for name in self._names():
            paths = {
                m: osp.join(self.data_prefix[m], name + self.suffixes[m])
                for m in self.layout.names
            }
            info = dict(
                modality_paths=paths,
                img_path=paths.get('rgb', paths[self.layout.names[0]]),
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[])
            classes = self.metainfo.get('classes')
            if classes:  # labels are checked against these when loaded
                info.update(num_classes=len(classes),
                            ignore_index=self.ignore_index)
            if ann_dir:
                info['seg_map_path'] = osp.join(ann_dir,
                                                name + self.seg_map_suffix)
            if self.check_files:
                for what, path in list(paths.items()) + [
                        ('label', info.get('seg_map_path'))]:
                    if path is not None and not osp.isfile(path):
                        raise FileNotFoundError(
                            f'{what} file not found: {path} (sample '
                            f'{name!r} of {self.__class__.__name__})')
            data_list.append(info)
        if not data_list:
            raise ValueError(f'{self.__class__.__name__} found no samples in '
                             f'{self.data_prefix} (ann_file='
                             f'{self.ann_file!r})')
        return data_list
