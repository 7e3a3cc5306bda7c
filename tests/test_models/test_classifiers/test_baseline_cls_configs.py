"""The classification baseline configs load, build and train one step."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mm_incomplete  # noqa: F401  registers the modules
from mm_incomplete.utils import config_path

BASELINES = osp.dirname(config_path('baselines/README.md'))
CPU = sorted(glob.glob(osp.join(BASELINES, '*_synthetic_cls_cpu.py')))


def test_the_three_baselines_exist():
    assert [osp.basename(p) for p in CPU] == [
        'early_fusion_synthetic_cls_cpu.py',
        'multi_branch_full_synthetic_cls_cpu.py',
        'multi_branch_moddrop_synthetic_cls_cpu.py']


@pytest.mark.parametrize('path', CPU, ids=osp.basename)
def test_cpu_configs_train_one_step_and_predict_every_combination(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.val_cfg.type == 'MultiCombinationValLoop'
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    data = dict(inputs=[torch.rand(4, 64, 64) * 255 for _ in range(4)],
                data_samples=[DataSample().set_gt_label(i) for i in range(4)])
    losses = model.train_step(data, OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.01)))
    assert torch.isfinite(losses['loss'])
    model.eval()
    batch = model.data_preprocessor(data, False)
    with torch.no_grad():
        out = model.predict_combinations(batch['inputs'],
                                         batch['data_samples'], 'all')
    assert list(out) == ['rgb+depth', 'rgb', 'depth']
    assert out['depth'][0].pred_score.shape == (8, )
