"""tools/analysis/plot_combinations.py: grouped bar chart PNG."""
import importlib.util
import os.path as osp
import struct

import pytest

from mm_incomplete.evaluation import dump_record, make_record

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis',
                'plot_combinations.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('plot_combinations', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(tmp_path, name, per, **info):
    return dump_record(make_record(per, 'test', **info),
                       str(tmp_path / f'{name}.json'))


def png_size(path):
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n'
    assert head[12:16] == b'IHDR'
    return struct.unpack('>II', head[16:24])


def test_two_methods(tool, tmp_path, capsys):
    a = write(tmp_path, 'a', {'rgb+depth': {'mIoU': 40.0},
                              'rgb': {'mIoU': 35.0},
                              'depth': {'mIoU': 20.0}}, model='ModDrop')
    b = write(tmp_path, 'b', {'rgb+depth': {'mIoU': 42.0},
                              'rgb': {'mIoU': 38.0},
                              'depth': {'mIoU': 30.0}}, model='DMRNet')
    order, series = tool.collect([a, b], 'mIoU', None)
    assert order == ['rgb+depth', 'rgb', 'depth', 'mean']
    assert list(series) == ['ModDrop', 'DMRNet']
    assert series['DMRNet']['mean'] == pytest.approx(110 / 3)
    out = str(tmp_path / 'fig.png')
    assert tool.main([a, b, '--out', out, '--labels', 'A', 'B']) == 0
    w, h = png_size(out)
    assert 400 <= w <= 3000 and 300 <= h <= 1500
    assert osp.getsize(out) > 5000
    assert 'wrote' in capsys.readouterr().out


def test_different_combination_sets_warn(tool, tmp_path, capsys):
    a = write(tmp_path, 'a', {'rgb': {'mIoU': 35.0}, 'depth': {'mIoU': 5.0}})
    b = write(tmp_path, 'b', {'rgb': {'mIoU': 38.0}})
    order, series = tool.collect([a, b], 'mIoU', ['x', 'y'])
    assert order == ['rgb', 'depth', 'mean']
    assert 'depth' not in series['y']
    assert 'different combinations' in capsys.readouterr().err
    assert tool.main([a, b, '--out', str(tmp_path / 'f.png')]) == 0


def test_errors_name_file_and_metrics(tool, tmp_path, capsys):
    a = write(tmp_path, 'acc', {'rgb': {'accuracy/top1': 50.0}})
    out = str(tmp_path / 'f.png')
    assert tool.main([a, '--out', out]) == 1
    err = capsys.readouterr().err
    assert 'acc.json' in err and "'mIoU'" in err and 'accuracy/top1' in err
    assert tool.main([str(tmp_path / 'missing.json'), '--out', out]) == 1
    assert 'missing.json' in capsys.readouterr().err
    assert tool.main([a, '--out', out, '--metric', 'accuracy/top1',
                      '--labels', 'x', 'y']) == 1
    assert '2 labels for 1 result files' in capsys.readouterr().err
    assert not osp.exists(out)
    assert tool.main([a, '--out', str(tmp_path / 'no' / 'f.png'),
                      '--metric', 'accuracy/top1']) == 1
    assert "folder" in capsys.readouterr().err


def test_legend_covers_no_bar_or_value_label(tool):
    """The legend lies outside the axes: it overlaps no bar, no value."""
    from matplotlib.text import Annotation
    series = {name: {'rgb+depth': 44.0, 'rgb': 43.5, 'depth': 41.0,
                     'mean': 42.8}
              for name in ('ModDrop baseline', 'DMRNet', 'MMANet student')}
    fig = tool.draw(['rgb+depth', 'rgb', 'depth', 'mean'], series, 'mIoU')
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        assert len(fig.legends) == 1
        legend = fig.legends[0].get_window_extent(renderer)
        ax = fig.axes[0]
        labels = [c for c in ax.get_children() if isinstance(c, Annotation)]
        assert len(labels) == 12
        for item in labels + list(ax.patches):
            box = item.get_window_extent(renderer)
            assert not legend.overlaps(box), item
        assert not legend.overlaps(ax.get_window_extent(renderer))
    finally:
        tool.plt.close(fig)
