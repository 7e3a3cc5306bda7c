"""FeatureRecorder: hooks on module paths, tuple outputs, errors."""
import pytest
import torch
import torch.nn as nn

from mm_incomplete.models.distillers import FeatureRecorder


class _Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)
        self.branch = nn.Conv2d(2, 3, 1)

    def forward(self, x, use_branch=False):
        y = self.conv(x)
        return (y, y * 2) if not use_branch else self.branch(x)


class _Multi(nn.Module):

    def __init__(self):
        super().__init__()
        self.net = _Net()

    def forward(self, x):
        return self.net(x)


def test_records_only_while_recording_and_picks_tuple_elements():
    model = _Multi()
    rec = FeatureRecorder(model, dict(conv='net.conv',
                                      second=dict(path='net', index=1),
                                      both='net'))
    x = torch.randn(1, 2, 4, 4)
    model(x)
    assert rec.outputs == {}
    with rec:
        out = model(x)
    assert torch.equal(rec.get('conv'), out[0])
    assert torch.equal(rec.get('second'), out[1])
    assert isinstance(rec.get('both'), tuple) and len(rec.get('both')) == 2
    rec.clear()
    with pytest.raises(RuntimeError, match='did not run'):
        rec.get('conv')
    rec.remove()
    with rec:
        model(x)
    assert rec.outputs == {}


def test_errors_name_the_option_and_path():
    model = _Multi()
    with pytest.raises(KeyError, match=r"student_recorders.x.*'net.cnv'"):
        FeatureRecorder(model, dict(x='net.cnv'), 'student_recorders')
    rec = FeatureRecorder(model, dict(x=dict(path='net', index=5)))
    with pytest.raises(IndexError, match='no element 5'), rec:
        model(torch.randn(1, 2, 2, 2))
    with pytest.raises(KeyError, match='no recorder'):
        rec.get('y')


def test_a_missing_path_lists_the_children_of_its_deepest_module():
    model = _Multi()
    with pytest.raises(KeyError) as err:
        FeatureRecorder(model, dict(head_feats='net.branch.bottleneck'),
                        'teacher_recorders')
    msg = str(err.value)
    assert "`teacher_recorders.head_feats`" in msg
    assert "no submodule 'net.branch.bottleneck'" in msg
    # net.branch exists (a leaf conv): nothing below it
    assert "deepest module on that path is 'net.branch' (Conv2d)" in msg
    assert msg.endswith('children are []"')
    with pytest.raises(KeyError) as err:
        FeatureRecorder(model, dict(x='net.fpn_bottleneck'))
    assert "'net' (_Net), whose children are ['net.conv', 'net.branch']" \
        in str(err.value)
    with pytest.raises(KeyError) as err:
        FeatureRecorder(model, dict(x='decode_head.conv_seg'))
    assert "the model itself (_Multi), whose children are ['net']" in \
        str(err.value)
