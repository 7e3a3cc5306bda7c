"""Record named intermediate outputs of a model with forward hooks.

Shorthand: B batch, C channels, H x W spatial size, K classes.

Distillation needs features and logits from inside the student and the
teacher without editing either model. A :class:`FeatureRecorder` attaches a
forward hook to each module named in the config (a dotted path as in
``model.named_modules()``, e.g. ``'backbone.fuse_layers.3'`` or
``'decode_head.conv_seg'``) and keeps the module's output of the current
forward pass while recording is switched on.
"""
from typing import Dict, Optional, Union

import torch
import torch.nn as nn

RecorderSpec = Union[str, dict]


def _parse_spec(name: str, spec: RecorderSpec, option: str):
    """``'path'`` or ``dict(path='path', index=i)`` -> (path, index)."""
    if isinstance(spec, str):
        return spec, None
    if isinstance(spec, dict) and isinstance(spec.get('path'), str):
        unknown = set(spec) - {'path', 'index'}
        if unknown:
            raise ValueError(f'`{option}.{name}`: unknown keys '
                             f'{sorted(unknown)}; allowed: path, index')
        index = spec.get('index')
        if index is not None and not isinstance(index, int):
            raise ValueError(f'`{option}.{name}.index` must be an int, got '
                             f'{index!r}')
        return spec['path'], index
    raise TypeError(f'`{option}.{name}` must be a module path string or '
                    f"dict(path=..., index=...), got {spec!r}")


def _missing_module(model: nn.Module, modules: Dict[str, nn.Module],
                    path: str, field: str) -> str:
    """The error for a recorder path ``model`` lacks: the deepest module on
    the path that exists and the paths of its children (what could be
    meant)."""
    parent = path
    while parent and parent not in modules:
        parent = parent.rpartition('.')[0]
    children = [f'{parent}.{n}' if parent else n
                for n, _ in modules[parent].named_children()]
    shown = children[:12] + (['...'] if len(children) > 12 else [])
    where = f'{parent!r} ({type(modules[parent]).__name__})' if parent \
        else f'the model itself ({type(model).__name__})'
    return (f'`{field}`: {type(model).__name__} has no submodule {path!r}; '
            f'the deepest module on that path is {where}, whose children '
            f'are {shown}')


class FeatureRecorder:
    """Keep the outputs of named submodules of ``model`` during a forward.

    Args:
        model (nn.Module): the model to record from.
        recorders (dict[str, str | dict]): ``{name: module_path}`` or
            ``{name: dict(path=module_path, index=i)}``; ``index`` picks one
            element of a module that returns a tuple or list (e.g. one level
            of a backbone's multi-scale output); without it such a module's
            output is kept as a tuple of tensors.
        option (str): config key the recorders came from, for error messages.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
        >>> rec = FeatureRecorder(model, dict(conv='0'))
        >>> with rec:
        ...     _ = model(torch.randn(2, 3, 5, 5))
        >>> rec.get('conv').shape
        torch.Size([2, 4, 5, 5])
    """

    def __init__(self, model: nn.Module, recorders: Optional[Dict] = None,
                 option: str = 'recorders'):
        self.option = option
        self.outputs: Dict[str, torch.Tensor] = {}
        self.recording = False
        self.paths: Dict[str, str] = {}
        self._handles = []
        modules = dict(model.named_modules())
        for name, spec in (recorders or {}).items():
            path, index = _parse_spec(name, spec, option)
            if path not in modules:
                raise KeyError(_missing_module(model, modules, path,
                                               f'{option}.{name}'))
            self.paths[name] = path
            self._handles.append(modules[path].register_forward_hook(
                self._make_hook(name, index)))

    def _make_hook(self, name: str, index: Optional[int]):

        def hook(module, args, output):
            if not self.recording:
                return
            if index is not None:
                if not isinstance(output, (tuple, list)) or \
                        not -len(output) <= index < len(output):
                    raise IndexError(
                        f'`{self.option}.{name}`: module '
                        f'{self.paths[name]!r} returned '
                        f'{type(output).__name__} which has no element '
                        f'{index}')
                output = output[index]
            if isinstance(output, (tuple, list)) and output and all(
                    isinstance(o, torch.Tensor) for o in output):
                output = tuple(output)  # multi-level features, kept whole
            elif not isinstance(output, torch.Tensor):
                raise TypeError(
                    f'`{self.option}.{name}`: module {self.paths[name]!r} '
                    f'returned {type(output).__name__}, not a tensor or a '
                    'tuple of tensors')
            self.outputs[name] = output

        return hook

    def __enter__(self):
        self.outputs = {}
        self.recording = True
        return self

    def __exit__(self, *exc):
        self.recording = False
        return False

    def get(self, name: str) -> torch.Tensor:
        """The recorded output of ``name`` from the last recorded forward."""
        if name not in self.paths:
            raise KeyError(f'`{self.option}` has no recorder {name!r}; '
                           f'defined: {sorted(self.paths)}')
        if name not in self.outputs:
            raise RuntimeError(
                f'`{self.option}.{name}`: module {self.paths[name]!r} did '
                'not run in this forward pass (e.g. a branch skipped because '
                'its modality was masked out for the whole batch); record a '
                'module that always runs, such as a fused feature')
        return self.outputs[name]

    def clear(self) -> None:
        self.outputs = {}

    def remove(self) -> None:
        """Detach the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
