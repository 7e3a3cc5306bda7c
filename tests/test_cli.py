"""Console scripts run the very files in tools/ (mm_incomplete/.mim/tools)."""
import os.path as osp

import pytest

import mm_incomplete.cli as cli

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_every_tool_is_found_through_the_package():
    for name in cli.TOOLS:
        path = cli.tool_path(name)
        assert osp.isfile(path)
        assert osp.samefile(path, osp.join(REPO, 'tools', cli.TOOLS[name]))
    with pytest.raises(KeyError, match='unknown tool'):
        cli.tool_path('nope')


@pytest.mark.parametrize('func, flag', [(cli.train, '--resume'),
                                        (cli.test, '--modalities'),
                                        (cli.demo, '--depth'),
                                        (cli.export_student, '--config'),
                                        (cli.plot_combinations, '--metric')])
def test_scripts_parse_like_the_tools(func, flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        func(['--help'])
    assert exit_info.value.code == 0
    assert flag in capsys.readouterr().out
