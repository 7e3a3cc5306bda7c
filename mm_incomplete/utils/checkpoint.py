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
"""
import os.path as osp

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


def install_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints with :func:`load_local_checkpoint`."""
    register_checkpoint_safe_globals()
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
