"""Multi-modal classification datasets driven by an annotation file.

Shorthand: M modalities, N samples.

Annotation file: one sample per line, whitespace separated, the path of each
modality of ``ann_modalities`` (default: the layout's order) relative to
``data_root`` / ``data_prefix``, then the integer class id::

    rgb/train/000000.png depth/train/000000.png 3

Blank lines and lines starting with ``#`` are skipped. The file may list more
modalities than the model uses (e.g. rgb, depth and ir for an rgb+depth
model): ``ann_modalities`` names the columns.
"""
import os.path as osp
from typing import Optional, Sequence

from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from mm_incomplete.modality import ModalityLayout
from .pipeline_layout import fill_pipeline_layout


@DATASETS.register_module()
class MultiModalClsDataset(BaseDataset):
    """Classification samples of one file per modality and a class id.

    Each data info holds ``modality_paths`` ({name: path}), ``img_path`` and
    ``gt_label`` (int); load the files with ``LoadMultiModalImages``.

    Args:
        modalities (dict | str): the layout, e.g. ``dict(rgb=3, depth=1)``.
            The dataset hands it to every ``LoadMultiModalImages`` step of
            ``pipeline`` that names no ``modalities`` (one that does must
            agree).
        ann_file (str): the annotation file (relative to ``data_root``).
        ann_modalities (Sequence[str], optional): modality of each path
            column; defaults to the layout's names.
        data_root (str): root of the paths.
        data_prefix (str): folder joined between ``data_root`` and paths.
        check_files (bool): check at start-up that every file exists.
        **kwargs: passed to ``mmpretrain.datasets.BaseDataset``
            (``metainfo``/``classes``, ``pipeline``, ``test_mode`` ...).

    Example:
        >>> import tempfile, os.path as osp
        >>> root = tempfile.mkdtemp()
        >>> with open(osp.join(root, 'ann.txt'), 'w') as f:
        ...     _ = f.write('a.png a_d.png 1\\n')
        >>> ds = MultiModalClsDataset(dict(rgb=3, depth=1), 'ann.txt',
        ...                           data_root=root, classes=['x', 'y'],
        ...                           check_files=False)
        >>> ds.get_data_info(0)['gt_label'], sorted(
        ...     ds.get_data_info(0)['modality_paths'])
        (1, ['depth', 'rgb'])
    """

    def __init__(self,
                 modalities,
                 ann_file: str,
                 ann_modalities: Optional[Sequence[str]] = None,
                 data_root: str = '',
                 data_prefix: str = '',
                 check_files: bool = True,
                 **kwargs):
        self.layout = ModalityLayout(modalities, 'modalities')
        kwargs['pipeline'] = fill_pipeline_layout(
            kwargs.get('pipeline', []), self.layout, type(self).__name__)
        cols = tuple(ann_modalities or self.layout.names)
        missing = [n for n in self.layout.names if n not in cols]
        if missing:
            raise ValueError(f'`ann_modalities` {list(cols)} has no column '
                             f'for modalities {missing} of `modalities`')
        if len(set(cols)) != len(cols):
            raise ValueError(f'`ann_modalities` repeats a name: {list(cols)}')
        self.ann_modalities = cols
        self.check_files = check_files
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    def load_data_list(self):
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'`ann_file` not found: {self.ann_file}')
        prefix = self.data_prefix.get('img_path', '') or self.data_root
        num_classes = len(self.CLASSES) if self.CLASSES else None
        data_list = []
        with open(self.ann_file) as f:
            lines = f.readlines()
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            where = f'{self.ann_file}:{lineno}'
            parts = line.split()
            if len(parts) != len(self.ann_modalities) + 1:
                raise ValueError(
                    f'{where}: expected {len(self.ann_modalities)} paths '
                    f'({", ".join(self.ann_modalities)}) and a label, got '
                    f'{len(parts)} fields: {line!r}')
            try:
                label = int(parts[-1])
            except ValueError:
                raise ValueError(f'{where}: label {parts[-1]!r} is not an '
                                 'integer') from None
            if label < 0 or (num_classes is not None and label >= num_classes):
                raise ValueError(f'{where}: label {label} is outside '
                                 f'0..{(num_classes or 1) - 1}')
            cols = dict(zip(self.ann_modalities, parts[:-1]))
            paths = {
                n: osp.join(prefix, cols[n])
                for n in self.layout.names
            }
            if self.check_files:
                for name, path in paths.items():
                    if not osp.isfile(path):
                        raise FileNotFoundError(
                            f'{name!r} file not found: {path} ({where})')
            data_list.append(
                dict(
                    modality_paths=paths,
                    img_path=paths.get('rgb', paths[self.layout.names[0]]),
                    gt_label=label))
        if not data_list:
            raise ValueError(f'`ann_file` {self.ann_file} lists no samples')
        return data_list
