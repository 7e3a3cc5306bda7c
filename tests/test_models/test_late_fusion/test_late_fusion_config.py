"""configs/baselines/late_fusion_moddrop_synthetic_seg_cpu.py builds,
trains a step and predicts every combination with the baseline's head per
modality."""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from _tiny import seg_batch
from mm_incomplete.utils import config_path


def test_late_fusion_config():
    cfg = Config.fromfile(config_path(
        'baselines/late_fusion_moddrop_synthetic_seg_cpu.py'))
    base = Config.fromfile(config_path(
        'baselines/multi_branch_moddrop_synthetic_seg_cpu.py'))
    assert cfg.model.decode_head.head == base.model.decode_head
    init_default_scope('mmseg')
    cfg.model.decode_head.head.num_classes = 4
    model = MODELS.build(cfg.model)
    assert sorted(model.decode_head.heads) == ['depth', 'rgb']
    inputs, samples = seg_batch(size=64)
    losses = model.loss(inputs, samples)
    assert float(losses['decode.loss_ce']) > 0
    model.eval()
    with torch.no_grad():
        out = model.predict_combinations(inputs, samples)
    assert sorted(out) == ['depth', 'rgb', 'rgb+depth']
