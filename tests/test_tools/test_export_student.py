"""tools/model_converters/export_student.py: the student alone, loadable
into the plain student config."""
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models', 'test_distillers'))
from _builders import save_teacher, seg_batch, seg_distiller, seg_net  # noqa


def _tool():
    spec = importlib.util.spec_from_file_location(
        'export_student',
        osp.join(ROOT, 'tools', 'model_converters', 'export_student.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_loads_into_plain_student_config(tmp_path):
    init_default_scope('mmseg')
    teacher = str(tmp_path / 'teacher.pth')
    save_teacher(teacher)
    cfg = seg_distiller(teacher, aux_combinations=['depth'])
    distiller = MODELS.build(cfg)
    with torch.no_grad():  # make the student differ from a fresh init
        for p in distiller.student.parameters():
            p.add_(0.01)
    ckpt = str(tmp_path / 'iter_8.pth')
    torch.save({'meta': {'dataset_meta': {'classes': list('abcde')}},
                'state_dict': distiller.state_dict(),
                'optimizer': {}}, ckpt)
    cfg_file = str(tmp_path / 'mmanet.py')
    Config(dict(default_scope='mmseg', model=cfg,
                custom_hooks=[])).dump(cfg_file)

    out = str(tmp_path / 'export' / 'student.pth')
    _tool().main([ckpt, out, '--config', cfg_file])

    exported = torch.load(out)
    assert 'optimizer' not in exported
    assert exported['meta']['dataset_meta']['classes'] == list('abcde')
    assert not any(k.startswith(('student.', 'teacher', 'aux_heads'))
                   for k in exported['state_dict'])
    plain = MODELS.build(seg_net())
    plain.load_state_dict(exported['state_dict'], strict=True)
    plain.eval()
    distiller.eval()
    assert torch.equal(plain.val_step(seg_batch())[0].seg_logits.data,
                       distiller.val_step(seg_batch())[0].seg_logits.data)
    student_cfg = Config.fromfile(str(tmp_path / 'export' / 'student.py'))
    assert student_cfg.model.type == 'MultiModalEncoderDecoder'


def test_not_a_distiller_checkpoint_is_refused(tmp_path):
    tool = _tool()
    with pytest.raises(ValueError, match='no `student.\\*` weights'):
        tool.export_student({'state_dict': {'backbone.x': torch.zeros(1)}},
                            'plain.pth')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        tool.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'o.pth')])
