"""configs/mmanet: they parse, carry the paper's weights and schedule, and
the CPU-size distillers build from a teacher trained with the teacher
config."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mm_incomplete.utils import config_path


def test_nyud_config_has_the_papers_setting():
    cfg = Config.fromfile(config_path('mmanet/nyud_rgbd.py'))
    model = cfg.model
    assert model.type == 'SegDistiller'
    assert model.student.data_preprocessor.train_sampler.type == 'ModDrop'
    weights = {k: v.loss_weight for k, v in model.distill_losses.items()}
    assert weights == dict(loss_mad_context=4.0, loss_mad_skip16=4.0,
                           loss_mad_skip8=4.0)
    mar = model.method_losses.mar
    # MAR: a full ESANet decoder on the context neck's outputs (issue 10)
    assert mar.type == 'CombinationRegularizer' and \
        mar.inputs == 'neck_feats' and mar.combinations is None and \
        mar.head.type == 'ESANetHead' and \
        mar.head.loss_decode.loss_weight == 0.2
    hooks = {h.type: h for h in cfg.custom_hooks}
    assert hooks['LossScaleWarmupHook'].begin == 1000  # epoch 11 of 300
    assert hooks['LossScaleWarmupHook'].modules == ['method_losses',
                                                    'distill_losses']
    assert (hooks['WeakCombinationMiningHook'].begin,
            hooks['WeakCombinationMiningHook'].end) == (700, 1000)
    # mining reads a held-out list from train, the test split stays test
    assert cfg.val_dataloader.dataset.split == 'train'
    assert cfg.val_dataloader.dataset.ann_file == 'splits/val_mmanet.txt'
    assert cfg.test_dataloader.dataset.split == 'test'
    teacher = Config.fromfile(config_path('mmanet/nyud_rgbd_teacher.py'))
    assert teacher.model.backbone == model.teacher.backbone


@pytest.mark.parametrize('task,scope,registry', [
    ('seg', 'mmseg', 'mmseg.registry'),
    ('cls', 'mmpretrain', 'mmpretrain.registry'),
])
def test_cpu_configs_build_with_their_teacher(tmp_path, task, scope,
                                              registry):
    import importlib
    models = importlib.import_module(registry).MODELS
    init_default_scope(scope)
    teacher_cfg = Config.fromfile(
        config_path(f'mmanet/synthetic_{task}_teacher_cpu.py'))
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save({'state_dict': models.build(teacher_cfg.model).state_dict()},
               ckpt)
    cfg = Config.fromfile(config_path(f'mmanet/synthetic_{task}_cpu.py'))
    cfg.model.teacher_ckpt = ckpt
    model = models.build(cfg.model)
    weight = 4.0 if task == 'seg' else 30.0
    assert all(loss.loss_weight == weight
               for loss in model.distill_losses.values())
    assert not any(k.startswith('teacher') for k in model.state_dict())
    # MAR is the distiller's method loss: training only, not the student's
    assert type(model.method_losses.mar).__name__ == \
        'CombinationRegularizer'
    assert not model.student.method_losses
