"""The segmentation baseline configs load, build and train one step."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mm_incomplete  # noqa: F401  registers the modules
from mm_incomplete.utils import config_path

BASELINES = osp.dirname(config_path('baselines/README.md'))
NYUD = sorted(glob.glob(osp.join(BASELINES, '*_nyud_rgbd.py')))
CPU = sorted(glob.glob(osp.join(BASELINES, '*_synthetic_seg_cpu.py')))


def build(cfg):
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def test_the_three_baselines_exist():
    names = {osp.basename(p) for p in NYUD + CPU}
    for method in ('early_fusion', 'multi_branch_full',
                   'multi_branch_moddrop'):
        assert f'{method}_nyud_rgbd.py' in names
        assert f'{method}_synthetic_seg_cpu.py' in names


@pytest.mark.parametrize('path', NYUD, ids=osp.basename)
def test_nyud_configs_follow_the_papers_setting(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    assert cfg.model.data_preprocessor.size == (480, 640)
    assert cfg.train_dataloader.batch_size == 8
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay,
            opt.nesterov) == ('SGD', 0.01, 0.9, 1e-4, True)
    assert [s.type for s in cfg.param_scheduler] == ['OneCycleLR']
    assert cfg.train_cfg.max_iters == 300 * 100
    assert cfg.val_cfg.type == 'MultiCombinationValLoop'
    sampler = cfg.model.data_preprocessor.train_sampler.type
    assert sampler == ('ModDrop' if 'moddrop' in path else 'FixedCombination')
    model = build(cfg)
    assert model.decode_head.num_classes == 40
    expected = 'EarlyFusionResNet' if 'early' in path else 'MultiBranchResNet'
    assert type(model.backbone).__name__ == expected
    assert model.backbone.out_channels == [256, 512, 1024, 2048]


@pytest.mark.parametrize('path', CPU, ids=osp.basename)
def test_cpu_configs_train_one_step(path):
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    model = build(cfg)
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    samples = []
    for _ in range(4):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64),
                                        ori_shape=(64, 64)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 9, (1, 64, 64)))
        samples.append(s)
    data = dict(inputs=[torch.rand(4, 64, 64) * 255 for _ in range(4)],
                data_samples=samples)
    losses = model.train_step(data, OptimWrapper(optim))
    assert torch.isfinite(losses['loss'])
    batch = model.data_preprocessor(data, True)
    masks = torch.stack([s.modality_mask for s in batch['data_samples']])
    sampler = model.data_preprocessor.train_sampler
    # late fusion is trained with ModDrop too (it inherits that baseline)
    if 'moddrop' in path or 'late_fusion' in path:
        assert type(sampler).__name__ == 'ModDrop'
        assert sampler.drop_prob == 0.5 and masks.any(1).all()
    else:
        assert masks.all()
