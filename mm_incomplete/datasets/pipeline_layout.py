"""A dataset hands its modality layout to the loading step of its pipeline.

Shorthand: M modalities.

A config declares ``modalities`` once; the dataset receives it and gives it
to every ``LoadMultiModalImages`` step of its ``pipeline`` that has none. A
step that names its own layout must agree with the dataset's, and the error
names both places and their values.
"""
import copy
from typing import List, Optional, Sequence

from mm_incomplete.modality import ModalityLayout

#: transforms that take the dataset's layout as their ``modalities``
LAYOUT_TRANSFORMS = ('LoadMultiModalImages', )


def _type_name(cfg: dict) -> str:
    t = cfg.get('type')
    name = t if isinstance(t, str) else getattr(t, '__name__', '')
    return name.split('.')[-1]


def fill_pipeline_layout(pipeline: Optional[Sequence], layout: ModalityLayout,
                         owner: str = 'dataset') -> Optional[List]:
    """A copy of ``pipeline`` whose loading steps carry ``layout``.

    Args:
        pipeline (list, optional): transform configs (dicts) or callables;
            callables are kept as they are.
        layout (ModalityLayout): the dataset's layout.
        owner (str): the dataset, named in error messages.

    Returns:
        list | None: the pipeline with ``modalities`` filled in where absent.

    Example:
        >>> layout = ModalityLayout('rgb:3,ir:1')
        >>> out = fill_pipeline_layout([dict(type='LoadMultiModalImages'),
        ...                             dict(type='MultiModalRandomFlip')],
        ...                            layout)
        >>> out[0]['modalities']
        ModalityLayout('rgb:3,ir:1')
    """
    if pipeline is None:
        return None
    out = []
    for i, step in enumerate(pipeline):
        if isinstance(step, dict) and _type_name(step) in LAYOUT_TRANSFORMS:
            step = copy.copy(step)
            given = step.get('modalities')
            if given is None:
                step['modalities'] = layout
            else:
                mine = ModalityLayout(
                    given, f'{owner}.pipeline[{i}].modalities')
                if mine != layout:
                    raise ValueError(
                        f'{owner}.pipeline[{i}] ({_type_name(step)}) '
                        f'modalities {mine!r} differ from {owner}.modalities '
                        f'{layout!r}; leave the step\'s modalities unset to '
                        "use the dataset's")
        out.append(step)
    return out
