"""The static-fusion baselines of UDML (configs/udml/*_moddrop_noise_cpu.py)
differ from UDML's configs only by the model (the ModDrop baseline's, with no
UDML module or loss) and the hook (noise switch only): same data, noise
schedule, optimiser and loader; the built model trains a step on noisy
samples."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as CLS_MODELS
from mmpretrain.structures import DataSample

from mm_incomplete.models.backbones import UDMLBackbone
from mm_incomplete.modality import set_modality_masks


def _load(path):
    return Config.fromfile(path).to_dict()


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_only_the_model_and_the_weights_switch_differ(task):
    base = _load(f'configs/udml/synthetic_{task}_moddrop_noise_cpu.py')
    udml = _load(f'configs/udml/synthetic_{task}_cpu.py')
    moddrop = _load(
        f'configs/baselines/multi_branch_moddrop_synthetic_{task}_cpu.py')
    differ = sorted(k for k in set(base) | set(udml)
                    if base.get(k) != udml.get(k))
    assert differ == ['custom_hooks', 'model', 'weights_begin']
    # the model is the ModDrop baseline's, key for key
    model = dict(base['model'])
    assert model.pop('method_losses') is None
    assert model == moddrop['model']
    # the same noise switch at the same iteration, no weights switch
    hook, = base['custom_hooks']
    ref, = udml['custom_hooks']
    assert hook == dict(ref, weights_begin=None)
    assert base['noise_begin'] == udml['noise_begin'] > 0
    noise = [t for t in base['train_pipeline']
             if t['type'] == 'MultiModalNoiseInjection']
    assert len(noise) == 1 and noise[0]['enabled'] is False


def test_cls_baseline_builds_without_udml_and_trains_a_step():
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = CLS_MODELS.build(Config.fromfile(
        'configs/udml/synthetic_cls_moddrop_noise_cpu.py').model)
    assert not any(isinstance(m, UDMLBackbone) for m in model.modules())
    assert len(model.method_losses) == 0
    samples = [DataSample(metainfo=dict(noise_level=dict(rgb=9, depth=1)))
               .set_gt_label(i) for i in range(3)]
    set_modality_masks(samples, torch.tensor([[1, 1], [1, 0], [0, 1]]).bool())
    losses = model.loss(torch.rand(3, 4, 32, 32), samples)
    assert set(k for k in losses if 'loss' in k) == {'loss'}
    losses['loss'].backward()
    assert model.backbone.branches['depth'].conv1.weight.grad.abs().sum() > 0
