"""configs/mmh: the paper's CASIA-SURF setting, the NYUDv2 and CPU-size
configs; the CPU-size distillers build from a teacher of the teacher
config and run a training forward on inputs of the datasets' size."""
import importlib

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mm_incomplete.modality import ModalityLayout
from mm_incomplete.utils import config_path


def test_casia_surf_is_the_papers_setting():
    cfg = Config.fromfile(config_path('mmh/casia_surf.py'))
    model = cfg.model
    assert model.type == 'ClsDistiller'
    assert ModalityLayout(model.student.data_preprocessor.modalities
                          ).names == ('rgb', 'depth', 'ir')
    # privileged setting: the hallucination network sees RGB only
    assert model.student.data_preprocessor.train_sampler == dict(
        type='FixedCombination', combination='rgb')
    assert model.teacher_combination is None
    assert model.student.backbone.depth == 18
    assert model.student.backbone.base_channels == 64
    resize = [t for t in cfg.train_dataloader.dataset.pipeline
              if t.type == 'MultiModalResize']
    assert resize[0].scale == (112, 112)
    assert cfg.train_dataloader.batch_size == 64
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay,
            opt.nesterov) == ('SGD', 1e-3, 0.9, 5e-4, True)
    assert cfg.train_cfg.max_epochs == 50
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 5)
    assert steps.milestones == [8, 16, 25] and steps.by_epoch
    rad = model.distill_losses.loss_rad
    assert (rad.tau, tuple(rad.grids), rad.weighting, rad.loss_weight) == \
        (2.0, (4, 2, 1), 'attention', 0.4)
    assert rad.modules == dict(classifier_s='student.head.fc',
                               classifier_t='teacher.head.fc')
    assert {k: v.loss_weight for k, v in model.distill_losses.items()
            if 'dad' in k} == dict(loss_dad_stage3=100.0,
                                   loss_dad_stage4=100.0)
    teacher = Config.fromfile(config_path('mmh/casia_surf_teacher.py'))
    assert teacher.model.backbone == model.teacher.backbone
    assert teacher.model.data_preprocessor.train_sampler.combination is None
    # one method each in the RAD-only and DAD-only variants
    assert set(Config.fromfile(config_path(
        'mmh/casia_surf_rad.py')).model.distill_losses) == {'loss_rad'}
    assert set(Config.fromfile(config_path(
        'mmh/casia_surf_dad.py')).model.distill_losses) == {
            'loss_dad_stage3', 'loss_dad_stage4'}


def test_casia_surf_maps_fit_the_regions():
    # 112 x 112: stage 3 is 7 x 7, stage 4 is 4 x 4 (the 4 x 4 RAD grid)
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(config_path('mmh/casia_surf_teacher.py'))
    # built alone, the backbone gets the layout the model would hand it
    backbone = MODELS.build(dict(
        cfg.model.backbone, modalities=cfg.model.data_preprocessor.modalities))
    with torch.no_grad():
        outs = backbone(torch.rand(1, 5, 112, 112))
    assert [tuple(o.shape[2:]) for o in outs] == [(7, 7), (4, 4)]


def test_nyud_config():
    cfg = Config.fromfile(config_path('mmh/nyud_rgbd.py'))
    model = cfg.model
    assert model.type == 'SegDistiller'
    assert model.student.data_preprocessor.train_sampler.type == 'ModDrop'
    assert model.distill_losses.loss_rad.inputs == dict(
        map_s='student.logits', map_t='teacher.logits')
    assert model.distill_losses.loss_dad_stage3.samples == 'pixel'
    teacher = Config.fromfile(config_path('mmh/nyud_rgbd_teacher.py'))
    assert teacher.model.backbone == model.teacher.backbone


def test_nyud_recorders_play_their_roles():
    """On ESANet's decoder: `logits` is the output conv's map (1/4),
    `head_feats` what that conv reads (the 'strength' map)."""
    from mmseg.registry import MODELS

    from mm_incomplete.models.distillers import FeatureRecorder
    init_default_scope('mmseg')
    model = Config.fromfile(config_path('mmh/nyud_rgbd.py')).model
    torch.manual_seed(0)
    teacher = MODELS.build(model.teacher).eval()
    rec = FeatureRecorder(teacher, model.teacher_recorders)
    with rec, torch.no_grad():
        teacher(torch.rand(1, 4, 64, 80), mode='tensor')
        logits = teacher.decode_head.conv_seg(rec.get('head_feats'))
    assert rec.get('head_feats').shape == (1, 128, 16, 20)
    assert rec.get('logits').shape == (1, 40, 16, 20)
    assert torch.equal(logits, rec.get('logits'))
    assert rec.get('stage4').shape == (1, 2048, 2, 3)


def _batch(task, n=2):
    if task == 'cls':
        from mmpretrain.structures import DataSample
        samples = [DataSample().set_gt_label(i % 8) for i in range(n)]
    else:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        samples = []
        for _ in range(n):
            s = SegDataSample(metainfo=dict(img_shape=(64, 64),
                                            ori_shape=(64, 64)))
            s.gt_sem_seg = PixelData(data=torch.randint(0, 9, (1, 64, 64)))
            samples.append(s)
    return dict(inputs=[torch.rand(4, 64, 64) * 255 for _ in range(n)],
                data_samples=samples)


@pytest.mark.parametrize('task,scope,registry', [
    ('seg', 'mmseg', 'mmseg.registry'),
    ('cls', 'mmpretrain', 'mmpretrain.registry'),
])
def test_cpu_configs_build_with_their_teacher_and_train(
        tmp_path, task, scope, registry):
    models = importlib.import_module(registry).MODELS
    init_default_scope(scope)
    teacher_cfg = Config.fromfile(
        config_path(f'mmh/synthetic_{task}_teacher_cpu.py'))
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save({'state_dict': models.build(teacher_cfg.model).state_dict()},
               ckpt)
    expected = {
        '': {'loss_rad', 'loss_dad_stage3', 'loss_dad_stage4'},
        '_rad': {'loss_rad'},
        '_dad': {'loss_dad_stage3', 'loss_dad_stage4'},
        '_logit_kd': {'loss_kd'},
    }
    for variant, names in expected.items():
        cfg = Config.fromfile(
            config_path(f'mmh/synthetic_{task}{variant}_cpu.py'))
        cfg.model.teacher_ckpt = ckpt
        model = models.build(cfg.model)
        assert set(model.distill_losses) == names, variant
        assert not any(k.startswith('teacher') for k in model.state_dict())
        if variant == '':
            # the 64 x 64 inputs give RAD a map of at least 4 x 4
            model.train()
            data = model.data_preprocessor(_batch(task), True)
            losses = model(**data, mode='loss')
            assert names <= set(losses)
            assert all(torch.isfinite(losses[k]) for k in names)
