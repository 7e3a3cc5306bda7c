"""Load mmengine checkpoints under torch >= 2.6 with ``weights_only`` kept on.

torch 2.6 made ``torch.load(..., weights_only=True)`` the default. mmengine
0.10.7 calls ``torch.load`` without the argument, and its checkpoints hold a
few non-tensor objects (the message hub's ``HistoryBuffer`` and numpy scalars
and arrays in logged values), so resuming, testing or loading a teacher fails
with ``Unsupported global``. Instead of switching the protection off, we allow
exactly the types mmengine checkpoints contain (``CHECKPOINT_SAFE_GLOBALS``).

One more object needs care: ``HistoryBuffer.__getstate__`` stores its
statistics functions (``min``, ``max``, ``mean``, ``current``), which pickle
as ``getattr(HistoryBuffer, 'min')``. Allowing ``builtins.getattr`` would open
the unpickler to attribute walks, so instead the buffers we save leave out the
default functions, which ``HistoryBuffer.__setstate__`` restores anyway; only
custom statistics registered by a user are still saved (and refused on load).

We also replace mmengine's local-file loader so that a missing or corrupt file
raises an error naming the file.

Remote checkpoints (``http(s)://``, ``open-mmlab://``, ``mmcls://``,
``torchvision://``, ``pavi://``, ``s3://`` and any other scheme registered with
mmengine's ``CheckpointLoader``) go through loaders that call ``torch.load``
themselves, some of them (``torch.hub``) with ``weights_only=False``, so an
``http://`` checkpoint could run the code pickled into it.
:func:`install_checkpoint_loader` wraps every scheme's loader (also ones
registered later) so that each ``torch.load`` it makes runs with
``weights_only=True`` whatever it asks for; a refused or broken file raises an
error naming the path or URL.

:func:`describe_state_mismatch` lists the missing, unexpected and mis-shaped
keys between a checkpoint's weights and a model; the teacher loader and the
runner's checkpoint check (``CheckpointGuardHook``) both use it.
"""
import functools
import os.path as osp
import threading

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


def _numpy_globals():
    """The numpy reconstructors pickle uses for arrays and scalars."""
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    out = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    # each dtype class pickles under its own name (np.dtypes.Float64DType ...)
    out += [type(np.dtype(t)) for t in
            (np.float64, np.float32, np.float16, np.int64, np.int32,
             np.int16, np.int8, np.uint8, np.bool_)]
    return out


CHECKPOINT_SAFE_GLOBALS = [HistoryBuffer] + _numpy_globals()
_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getstate(self) -> dict:
    """``HistoryBuffer`` state without the default statistics functions."""
    state = {k: v for k, v in self.__dict__.items()
             if k != 'statistics_methods'}
    custom = {k: m for k, m in self._statistics_methods.items()
              if k not in _DEFAULT_STATISTICS or
              m is not getattr(HistoryBuffer, k)}
    if custom:
        state['statistics_methods'] = custom
    return state


def register_checkpoint_safe_globals() -> None:
    """Allow the non-tensor types of mmengine checkpoints in ``torch.load``."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(CHECKPOINT_SAFE_GLOBALS)
    HistoryBuffer.__getstate__ = _history_buffer_getstate


def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """``torch.load`` a local file; errors name the file.

    Args:
        filename (str): path of the checkpoint.
        map_location: as in :func:`torch.load`.

    Example:
        >>> import tempfile, torch
        >>> path = tempfile.mktemp(suffix='.pth')
        >>> torch.save({'state_dict': {}}, path)
        >>> load_local_checkpoint(path)
        {'state_dict': {}}
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        return torch.load(filename, map_location=map_location)
    except Exception as err:  # re-raised with the file's name
        raise RuntimeError(
            f'cannot load checkpoint {filename}: {type(err).__name__}: '
            f'{err}') from err


_TORCH_LOAD = torch.load
_FORCE_LOCK = threading.RLock()


def _weights_only_load(*args, **kwargs):
    """``torch.load`` with ``weights_only=True`` whatever the caller asks."""
    kwargs['weights_only'] = True
    return _TORCH_LOAD(*args, **kwargs)


def weights_only_loader(loader):
    """Wrap a scheme loader ``loader(filename, map_location)`` so that every
    ``torch.load`` it makes keeps ``weights_only`` on; errors name the path.

    Example:
        >>> import io, torch
        >>> def naive(filename, map_location=None):  # asks for no protection
        ...     return torch.load(io.BytesIO(buf.getvalue()),
        ...                       weights_only=False)
        >>> buf = io.BytesIO(); torch.save({'w': torch.ones(1)}, buf)
        >>> weights_only_loader(naive)('mem://x')
        {'w': tensor([1.])}
    """
    if getattr(loader, '_mm_incomplete_weights_only', False):
        return loader

    @functools.wraps(loader)
    def safe(filename, map_location=None, *args, **kwargs):
        with _FORCE_LOCK:
            previous, torch.load = torch.load, _weights_only_load
            try:
                return loader(filename, map_location, *args, **kwargs)
            except Exception as err:
                if str(filename) in str(err):
                    raise
                raise RuntimeError(
                    f'cannot load checkpoint {filename}: '
                    f'{type(err).__name__}: {err}') from err
            finally:
                torch.load = previous

    safe._mm_incomplete_weights_only = True
    return safe


def _guarded_get_checkpoint_loader(cls, path):
    loader = _ORIGINAL_GET_LOADER.__func__(cls, path)
    return None if loader is None else weights_only_loader(loader)


_ORIGINAL_GET_LOADER = CheckpointLoader.__dict__['_get_checkpoint_loader']


def install_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints with :func:`load_local_checkpoint`
    and every other scheme's with ``weights_only`` kept on."""
    register_checkpoint_safe_globals()
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    CheckpointLoader._get_checkpoint_loader = classmethod(
        _guarded_get_checkpoint_loader)


_MAX_LISTED = 20


def _listed(keys) -> str:
    keys = sorted(keys)
    more = len(keys) - _MAX_LISTED
    return ', '.join(keys[:_MAX_LISTED]) + (f' ... (+{more} more)'
                                             if more > 0 else '')


def describe_state_mismatch(model_state: dict, ckpt_state: dict) -> list:
    """Lines listing how a checkpoint's weights differ from a model's.

    Args:
        model_state (dict): the model's ``state_dict()``.
        ckpt_state (dict): the checkpoint's weights.

    Returns:
        list[str]: one line each for missing keys, unexpected keys and shape
        mismatches (empty when the two match).

    Example:
        >>> import torch
        >>> describe_state_mismatch({'a': torch.zeros(2), 'b': torch.zeros(1)},
        ...                         {'a': torch.zeros(3), 'c': torch.zeros(1)})
        ... # doctest: +NORMALIZE_WHITESPACE
        ['missing keys (1): b', 'unexpected keys (1): c',
         'shape mismatches (1): a: checkpoint (3,) vs model (2,)']
    """
    missing = set(model_state) - set(ckpt_state)
    unexpected = set(ckpt_state) - set(model_state)
    shapes = [f'{k}: checkpoint {tuple(ckpt_state[k].shape)} vs model '
              f'{tuple(model_state[k].shape)}'
              for k in sorted(set(model_state) & set(ckpt_state))
              if hasattr(ckpt_state[k], 'shape')
              and hasattr(model_state[k], 'shape')
              and ckpt_state[k].shape != model_state[k].shape]
    lines = []
    if missing:
        lines.append(f'missing keys ({len(missing)}): {_listed(missing)}')
    if unexpected:
        lines.append(f'unexpected keys ({len(unexpected)}): '
                     f'{_listed(unexpected)}')
    if shapes:
        lines.append(f'shape mismatches ({len(shapes)}): ' +
                     '; '.join(shapes[:_MAX_LISTED]))
    return lines
