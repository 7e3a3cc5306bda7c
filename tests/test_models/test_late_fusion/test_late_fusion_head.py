"""Late fusion as a form of both task models: per-modality heads, a
decision rule, training losses and every-combination evaluation that runs
each modality's encoder (and head) once per batch."""
import pytest
import torch
import torch.nn.functional as F

from _tiny import (LAYOUT, MASK, cls_batch, cls_model, count_encoder_runs,
                   fcn, linear, seg_batch, seg_model)
from mm_incomplete.models.late_fusion import LateFusionHead

DECISIONS = [dict(type='MeanDecision'), dict(type='LearnedWeightsDecision'),
             dict(type='CertaintyWeightedDecision', temperature=0.5),
             dict(type='UncertaintyWeightedDecision')]


def _late(task, decision):
    head = fcn() if task == 'seg' else linear()
    late = dict(type='LateFusionHead', head=head, modalities=LAYOUT,
                decision=decision,
                uncertainty=dict(type='PredictiveEntropy'))
    if task == 'seg':
        return seg_model(decode_head=late), seg_batch
    return cls_model(head=late), cls_batch


@pytest.mark.parametrize('task', ['seg', 'cls'])
@pytest.mark.parametrize('decision', DECISIONS, ids=lambda d: d['type'])
def test_training_record_and_gradients(task, decision):
    torch.manual_seed(0)
    model, batch = _late(task, decision)
    inputs, samples = batch()
    rec = model.forward_record(inputs, samples)
    assert sorted(rec.modal_logits) == ['depth', 'rgb']
    assert rec.fused_feats is None and rec.neck_feats is None
    # sample 1 has depth only: the fused logits are depth's head's
    torch.testing.assert_close(rec.head_logits[1],
                               rec.modal_logits['depth'][1], rtol=0, atol=0)
    losses = model.loss(inputs, samples)
    key = 'decode.loss_ce' if task == 'seg' else 'loss'
    losses[key].backward()
    for name in ('rgb', 'depth'):
        head = model.task_head.heads[name]
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in head.parameters()), name


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_every_combination_runs_each_encoder_once(task):
    torch.manual_seed(0)
    model, batch = _late(task, dict(type='CertaintyWeightedDecision'))
    model.eval()
    inputs, samples = batch()
    counts, handles = count_encoder_runs(model.backbone)
    with torch.no_grad():
        out = model.predict_combinations(inputs, samples, 'all')
    assert counts == {'rgb': 1, 'depth': 1}
    for h in handles:
        h.remove()
    assert sorted(out) == ['depth', 'rgb', 'rgb+depth']
    with torch.no_grad():
        feats = model.backbone.encode(inputs)
        depth_logits = model.task_head.heads['depth'](
            model._neck(tuple(feats['depth']))[0])
        # the every-combination path equals one predict per combination
        for name, row in (('rgb', [1, 0]), ('depth', [0, 1]),
                          ('rgb+depth', [1, 1])):
            clones = [s.clone() for s in samples]
            from mm_incomplete.modality import set_modality_masks
            set_modality_masks(clones, torch.tensor([row] * 4).bool())
            single = model.predict(inputs, clones)
            for a, b in zip(out[name], single):
                if task == 'seg':
                    torch.testing.assert_close(a.seg_logits.data,
                                               b.seg_logits.data)
                else:
                    torch.testing.assert_close(a.pred_score, b.pred_score)
    if task == 'seg':  # depth alone: its head's logits, resized
        expect = F.interpolate(depth_logits, size=(64, 64), mode='bilinear',
                               align_corners=False)
        torch.testing.assert_close(out['depth'][0].seg_logits.data,
                                   expect[0])
    else:
        torch.testing.assert_close(out['depth'][0].pred_score,
                                   depth_logits[0].softmax(0))


def test_early_fusion_every_combination_runs_each_encoder_once():
    model = seg_model().eval()
    inputs, samples = seg_batch()
    counts, _ = count_encoder_runs(model.backbone)
    with torch.no_grad():
        model.predict_combinations(inputs, samples, 'all')
    assert counts == {'rgb': 1, 'depth': 1}


def test_errors():
    with pytest.raises(ValueError, match='late fusion .* needs a backbone '
                                         'with per-modality encoders'):
        seg_model(backbone=dict(type='EarlyFusionResNet', modalities=LAYOUT,
                                depth=18, base_channels=8),
                  decode_head=dict(type='LateFusionHead', head=fcn(),
                                   modalities=LAYOUT))
    with pytest.raises(ValueError, match=r"decode_head.modalities "
                       r"ModalityLayout\('rgb:3,hha:3'\) != backbone."
                       r"modalities ModalityLayout\('rgb:3,depth:1'\)"):
        seg_model(decode_head=dict(type='LateFusionHead', head=fcn(),
                                   modalities=dict(rgb=3, hha=3)))
    with pytest.raises(ValueError, match='holds cls heads'):
        seg_model(decode_head=dict(type='LateFusionHead', head=linear(),
                                   modalities=LAYOUT))
    head = LateFusionHead(head=linear(), modalities=LAYOUT)
    with pytest.raises(RuntimeError, match='needs per-modality features'):
        head(torch.zeros(1))
    model, batch = _late('cls', dict(type='MeanDecision'))
    inputs, _ = batch()
    with pytest.raises(RuntimeError, match='late fusion has no fused'):
        model.extract_feat(inputs)
    assert MASK.shape == (4, 2)


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_training_heads_see_only_their_present_samples(task):
    """A modality's head runs on the samples where it is present (its
    BatchNorm statistics never see zeroed features); a single present
    sample runs twice; absent samples get zero logits."""
    torch.manual_seed(0)
    model, batch = _late(task, dict(type='MeanDecision'))
    model.train()
    inputs, samples = batch()  # rgb present in rows 0, 2; depth in 0, 1, 3
    sizes = {}
    for name, head in model.task_head.heads.items():
        head.register_forward_pre_hook(
            lambda m, args, name=name: sizes.setdefault(name, []).append(
                args[0][-1].shape[0]))
    rec = model.forward_record(inputs, samples)
    assert sizes == {'rgb': [2], 'depth': [3]}
    assert rec.modal_logits['rgb'].shape[0] == 4
    assert rec.modal_logits['rgb'][[1, 3]].abs().sum() == 0
    assert rec.modal_logits['depth'][2].abs().sum() == 0
    one_rgb = torch.tensor([[1, 1], [0, 1], [0, 1], [0, 1]]).bool()
    inputs, samples = batch(one_rgb)
    sizes.clear()
    rec = model.forward_record(inputs, samples)
    assert sizes['rgb'] == [2]  # the one rgb sample, twice
    torch.testing.assert_close(rec.head_logits[1],
                               rec.modal_logits['depth'][1], rtol=0, atol=0)
