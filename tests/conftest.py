"""Suite-wide settings.

Torch ops of the tiny test models are too small to profit from intra-op
threads, and on a 2-core machine threads of concurrent processes (pytest and
the tools it starts) oversubscribe the cores; one thread each is faster.

mmengine's default scope (``DefaultScope``, set by ``init_default_scope``,
``DefaultScope.overwrite_default_scope`` or building a ``Runner``) is process
global: the newest instance decides which registry ``MODELS.build`` and
friends look in. A test that sets it and a later test that builds from another
library's registry make an order-dependent suite (e.g. ``FCNHead is not in the
mmpretrain::model registry`` only when an mmpretrain test ran first). The two
autouse fixtures below put the scope back after every test and after every
module, so a test sees only the scope it (or its own fixtures) set.
"""
import os
from collections import OrderedDict

import pytest
import torch
from mmengine.registry import DefaultScope

os.environ.setdefault('OMP_NUM_THREADS', '1')  # inherited by subprocesses
torch.set_num_threads(1)


def _restoring_default_scope():
    """Snapshot ``DefaultScope``'s instances, yield, then put them back.

    The whole ordered instance dict is restored (not only the current name):
    it decides both the current scope (its last entry) and what
    ``init_default_scope`` believes was already created. Costs a dict copy.
    """
    saved = OrderedDict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = saved


@pytest.fixture(autouse=True, scope='module')
def _module_default_scope():
    """Undo scopes set by a module's own module-scoped fixtures, after it.

    Autouse fixtures of a scope set up before the others of that scope, so
    this snapshot predates them and its restore follows their teardown.
    """
    yield from _restoring_default_scope()


@pytest.fixture(autouse=True)
def _test_default_scope():
    """Undo scopes set by a test (or its function-scoped fixtures).

    Module-scoped fixtures set up before this snapshot, so a scope they set
    stays in force for every test of their module.
    """
    yield from _restoring_default_scope()
