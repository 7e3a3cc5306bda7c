"""MMANet's regularization network as a method loss of the distiller
(``method_losses.mar``, a CombinationRegularizer on the student's forward
record) computes what the ``aux_heads`` form computed: the same loss dict,
value for value, on the same batch and seed (segmentation; the class
is the one DMRNet uses in both tasks, see test_methods/test_dmrnet.py)."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS as SEG_MODELS

from _builders import LAYOUT, save_teacher, seg_batch, seg_distiller


@pytest.fixture
def ckpt(tmp_path):
    path = str(tmp_path / 'teacher.pth')
    save_teacher(path)
    return path


def _plugin(cfg):
    """The aux_heads form of a distiller config as a method loss."""
    cfg = dict(cfg)
    mar = cfg.pop('aux_heads')['mar']
    assert mar['inputs'] == 'student.feats'  # the backbone output
    head = mar['head']
    cfg['method_losses'] = dict(mar=dict(
        type='CombinationRegularizer', modalities=head['modalities'],
        combinations=head['combinations'], inputs='fused_feats',
        prefix='mar', head=head['head']))
    return cfg


@pytest.mark.parametrize('combinations', [['depth'], ['rgb+depth', 'rgb']])
def test_seg_method_loss_equals_the_aux_head_form(ckpt, combinations):
    init_default_scope('mmseg')
    old_cfg = seg_distiller(ckpt, dict(type='UniformCombinations', seed=1),
                            aux_combinations=combinations)
    torch.manual_seed(0)
    old = SEG_MODELS.build(old_cfg)
    new = SEG_MODELS.build(_plugin(old_cfg))
    state = {k.replace('aux_heads.mar.', 'method_losses.mar.'): v
             for k, v in old.state_dict().items()}
    new.load_state_dict(state)
    assert set(new.state_dict()) == set(state)
    batch = seg_batch(6)
    results = []
    for model in (old, new):
        model.train()
        torch.manual_seed(5)
        data = model.data_preprocessor(batch, True)
        results.append(model.loss(**data))
    ref, out = results
    assert sorted(out) == sorted(ref)
    assert any(k.startswith('mar.') for k in out)
    for key in ref:
        torch.testing.assert_close(out[key], ref[key], rtol=0, atol=0,
                                   msg=key)
    assert LAYOUT == dict(rgb=3, depth=1)
