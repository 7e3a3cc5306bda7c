"""tests/conftest.py: no test leaks mmengine's default scope into another.

An inner pytest session (in this process, on generated files with a copy of
the real conftest) runs a module whose module-scoped fixture sets ``mmseg``
and whose tests switch to ``mmpretrain``, then a module that builds an mmseg
head with no scope of its own, as ``test_seg_accuracy.py`` does.
"""
from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

FIRST = '''
import pytest
from mmengine.registry import DefaultScope, init_default_scope

def _scope():
    current = DefaultScope.get_current_instance()
    return None if current is None else current.scope_name

@pytest.fixture(scope='module')
def seg_scope():
    init_default_scope('mmseg')

def test_a_switches_to_mmpretrain(seg_scope):
    assert _scope() == 'mmseg'
    init_default_scope('mmpretrain')
    assert _scope() == 'mmpretrain'

def test_b_sees_its_module_fixture_s_scope(seg_scope):
    assert _scope() == 'mmseg'

def test_c_no_fixture_same_module():
    assert _scope() == 'mmseg'  # the module fixture is still set up

def test_d_leaks_again():
    with DefaultScope.overwrite_default_scope('mmdet'):
        pass
    init_default_scope('mmpretrain')
'''

SECOND = '''
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
import mm_incomplete  # noqa: F401

def test_scope_is_the_session_s():
    assert DefaultScope.get_current_instance() is None

def test_mmseg_head_builds_without_a_scope():
    MODELS.build(dict(type='FCNHead', in_channels=4, channels=4,
                      num_convs=1, num_classes=3))
'''


class _Outcomes:
    """pytest plugin: the call-phase outcome of every inner test."""

    def __init__(self):
        self.outcomes = {}

    def pytest_runtest_logreport(self, report):
        if report.when == 'call' or report.outcome != 'passed':
            self.outcomes[report.nodeid.split('::')[-1]] = report.outcome


def _run_inner(tmp_path, conftest):
    # start the inner session from no scope, as a fresh process does (the
    # outer autouse fixture puts this process's scopes back afterwards)
    DefaultScope._instance_dict.clear()
    (tmp_path / 'conftest.py').write_text(conftest)
    (tmp_path / 'pytest.ini').write_text('[pytest]\n')
    (tmp_path / 'test_1_first.py').write_text(FIRST)
    (tmp_path / 'test_2_second.py').write_text(SECOND)
    outcomes = _Outcomes()
    pytest.main(['-q', '-p', 'no:cacheprovider', '--import-mode=importlib',
                 '--rootdir', str(tmp_path),
                 '-c', str(tmp_path / 'pytest.ini'), str(tmp_path)],
                plugins=[outcomes])
    return outcomes.outcomes


CONFTEST = Path(__file__).with_name('conftest.py').read_text()


def test_no_scope_leaks_between_tests_or_modules(tmp_path):
    outcomes = _run_inner(tmp_path, CONFTEST)
    assert len(outcomes) == 6 and set(outcomes.values()) == {'passed'}, \
        outcomes


def test_without_the_fixtures_the_scope_leaks(tmp_path):
    """The inner checks can fail: with the conftest's fixtures not autouse
    the second module sees ``mmpretrain`` and cannot build ``FCNHead``."""
    assert CONFTEST.count('autouse=True') == 2
    outcomes = _run_inner(tmp_path, CONFTEST.replace('autouse=True',
                                                     'autouse=False'))
    assert outcomes == {
        'test_a_switches_to_mmpretrain': 'passed',
        'test_b_sees_its_module_fixture_s_scope': 'failed',
        'test_c_no_fixture_same_module': 'failed',
        'test_d_leaks_again': 'passed',
        'test_scope_is_the_session_s': 'failed',
        'test_mmseg_head_builds_without_a_scope': 'failed'}, outcomes
