"""Catch host synchronisations on a CPU-only machine.

Shorthand: none (tensors of any shape).

On an accelerator, reading a device tensor's values on the host (``.item()``,
``bool(t)``, ``.tolist()``, ``.nonzero()``, boolean indexing, a copy to the
CPU) makes the host wait for every queued kernel. On a CPU there is no such
wait, so ``torch.cuda.set_sync_debug_mode`` cannot be used; this guard marks
which tensors *would* live on the device instead:

- every parameter and buffer of the given modules, and every tensor moved
  with ``.to(device)`` where ``device`` is a ``torch.device`` (on a GPU run
  that is the accelerator; host code here writes ``'cpu'``),
- factory results given ``device=<torch.device>``,
- anything computed from a device tensor.

A host-reading operation on a device tensor is recorded with the innermost
calling frame outside torch; :attr:`ours` lists those inside the
``mm_incomplete`` package (what the tests forbid), :attr:`others` the rest
(mmseg's accuracy, mmengine's logging: not this package's to fix).
"""
import os.path as osp
import traceback

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

import mm_incomplete

PACKAGE = osp.dirname(mm_incomplete.__file__)
TORCH = osp.dirname(torch.__file__)
READS = {'item', 'tolist', '__bool__', '__int__', '__float__', '__index__',
         'nonzero', 'argwhere', 'numpy', 'unique', 'unique_consecutive',
         'masked_select', 'cpu', 'repeat_interleave', '__array__'}
FLAG = '_sync_guard_device'


def _is_dev(t) -> bool:
    return isinstance(t, torch.Tensor) and getattr(t, FLAG, False)


def _mark(obj):
    for t in tree_flatten(obj)[0]:
        if isinstance(t, torch.Tensor):
            try:
                setattr(t, FLAG, True)
            except (AttributeError, RuntimeError):  # pragma: no cover
                pass
    return obj


class HostSyncGuard(TorchFunctionMode):
    """Record host reads of device tensors while active.

    Args:
        *modules (nn.Module): whose parameters and buffers are on the device.

    Example:
        >>> lin = torch.nn.Linear(2, 2)
        >>> with HostSyncGuard(lin) as guard:
        ...     _ = bool(lin(torch.ones(1, 2)).sum() > 0)
        >>> len(guard.others) + len(guard.ours)
        1
    """

    def __init__(self, *modules):
        super().__init__()
        self.tensors = [t for m in modules
                        for t in list(m.parameters()) + list(m.buffers())]
        self.ours, self.others = [], []

    def __enter__(self):
        for t in self.tensors:
            setattr(t, FLAG, True)
        return super().__enter__()

    def __exit__(self, *exc):
        for t in self.tensors:
            if hasattr(t, FLAG):
                delattr(t, FLAG)
        return super().__exit__(*exc)

    def _record(self, name):
        for frame in reversed(traceback.extract_stack()[:-2]):
            if frame.filename == __file__ or \
                    frame.filename.startswith(TORCH):
                continue
            where = f'{name} at {frame.filename}:{frame.lineno} ' \
                    f'({frame.line})'
            (self.ours if frame.filename.startswith(PACKAGE)
             else self.others).append(where)
            return

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, '__name__', str(func))
        flat = [a for a in tree_flatten((args, kwargs))[0]
                if isinstance(a, torch.Tensor)]
        dev_in = any(_is_dev(a) for a in flat)
        self_dev = bool(args) and _is_dev(args[0])
        if name in READS and self_dev:
            self._record(name)
        elif name == 'where' and len(args) == 1 and self_dev:
            self._record('where(cond)')
        elif name in ('__getitem__', '__setitem__', 'index_put_',
                      'index_put') and dev_in:
            index = args[1] if len(args) > 1 else None
            for t in tree_flatten(index)[0]:
                if isinstance(t, torch.Tensor) and t.dtype == torch.bool:
                    self._record(f'{name} with a bool index')
        out = func(*args, **kwargs)
        if name in ('to', 'cuda', 'cpu'):
            target = [a for a in list(args[1:]) + list(kwargs.values())
                      if isinstance(a, (torch.device, str))]
            to_dev = name == 'cuda' or any(
                isinstance(a, torch.device) or
                (isinstance(a, str) and a != 'cpu') for a in target)
            to_host = name == 'cpu' or any(a == 'cpu' for a in target
                                           if isinstance(a, str))
            if self_dev and to_host and name != 'cpu':
                self._record(f"{name}('cpu')")
            if to_dev and not self_dev and isinstance(out, torch.Tensor):
                if out is args[0]:
                    out = out.clone()  # a new tensor, as on a real device
                return _mark(out)
            if to_host and isinstance(out, torch.Tensor):
                if out is args[0]:
                    out = out.clone()
                return out
        device = kwargs.get('device')
        if dev_in or isinstance(device, torch.device):
            return _mark(out)
        return out
