"""Every docstring example of the package runs and prints what it shows.

One test per module of ``mm_incomplete`` that has examples (the configs are
data, not modules, and are skipped). Examples run in their module's
namespace, as ``python -m doctest`` would, on the CPU, with whitespace
normalised and ``...`` allowed as a wildcard. Each module's examples start
as in a fresh session: without an mmengine default scope (other tests leave
one behind), and with mmengine's log lines (which carry a timestamp)
silenced.
"""
import doctest
import importlib
import pkgutil
from collections import OrderedDict

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

import mm_incomplete

SKIP = ('mm_incomplete.configs', )
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _modules():
    names = []
    for info in pkgutil.walk_packages(mm_incomplete.__path__,
                                      'mm_incomplete.'):
        if info.name.startswith(SKIP):
            continue
        names.append(info.name)
    return sorted(names)


def _examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [t for t in finder.find(module, name, globs=vars(module).copy())
            if t.examples]


MODULES = [name for name in _modules() if _examples(name)]


def test_the_package_has_examples():
    # a broken walk (e.g. an import error swallowed) would make the
    # parametrised test below vacuous
    assert len(MODULES) >= 40, MODULES


@pytest.fixture
def fresh_session():
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')
    scopes = DefaultScope._instance_dict
    DefaultScope._instance_dict = OrderedDict()  # no default scope
    try:
        yield
    finally:
        DefaultScope._instance_dict = scopes
        logger.setLevel(level)


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name, fresh_session):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    torch.manual_seed(0)
    failures = []
    for test in _examples(name):
        result = runner.run(test, out=failures.append)
        assert result.attempted > 0
    assert runner.failures == 0, ''.join(failures)
