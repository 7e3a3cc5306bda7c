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


def _with_fusion(task, in_channels=128):
    fusion = fcn(in_channels=in_channels) if task == 'seg' else \
        linear(in_channels=in_channels)
    head = fcn() if task == 'seg' else linear()
    late = dict(type='LateFusionHead', head=head, modalities=LAYOUT,
                decision=dict(type='CertaintyWeightedDecision',
                              temperature=0.5),
                fusion_head=fusion)
    if task == 'seg':
        return seg_model(decode_head=late), seg_batch
    return cls_model(head=late), cls_batch


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_fusion_head_on_concatenated_features_where_all_present(task):
    torch.manual_seed(0)
    model, batch = _with_fusion(task)
    model.train()
    # every modality in samples 0 and 2; rgb rows 0, 2, 3; depth 0, 1, 2
    mask = torch.tensor([[1, 1], [0, 1], [1, 1], [1, 0]]).bool()
    inputs, samples = batch(mask)
    sizes = []
    model.task_head.fusion_head.register_forward_pre_hook(
        lambda m, args: sizes.append(args[0][-1].shape))
    rec = model.forward_record(inputs, samples)
    assert [s[0] for s in sizes] == [2] and sizes[0][1] == 128
    assert rec.fusion_logits[[1, 3]].abs().sum() == 0
    # rows 0 and 2 of the fusion logits: the head on [f_rgb; f_depth] of
    # those samples (taken from the recorded full-batch features)
    model.task_head.fusion_head.eval()  # no batch statistics: row-wise
    rec = model.forward_record(inputs, samples)
    feats = [torch.cat([rec.modal_feats[n][i][[0, 2]]
                        for n in ('rgb', 'depth')], 1) for i in range(
                            len(rec.modal_feats['rgb']))]
    if task == 'cls':
        feats = list(model.neck(tuple(feats)))  # pooled (2, 128)
    ref = model.task_head.fusion_head(tuple(feats))
    torch.testing.assert_close(rec.fusion_logits[[0, 2]], ref)
    # one sample with every modality runs twice (BatchNorm), counts once
    model.train()
    sizes.clear()
    rec = model.forward_record(*batch(MASK))  # only sample 0
    assert [s[0] for s in sizes] == [2]
    assert rec.fusion_logits[1:].abs().sum() == 0
    rec.fusion_logits.sum().backward()
    assert all(p.grad is not None
               for p in model.task_head.fusion_head.parameters())
    # no sample with every modality: the fusion head does not run
    sizes.clear()
    rec = model.forward_record(*batch(torch.tensor([[1, 0], [0, 1]] * 2)
                                      .bool()))
    assert sizes == [] and rec.fusion_logits is None


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_fusion_head_in_every_combination_only_for_the_full_one(task):
    torch.manual_seed(0)
    model, batch = _with_fusion(task)
    model.eval()
    inputs, samples = batch()
    with torch.no_grad():
        out = model.predict_combinations(inputs, samples, 'all')
        modal, fusion = model._late_logits(model.backbone.encode(inputs))
    key = 'seg_logits' if task == 'seg' else 'pred_score'

    def scores(name):
        got = torch.stack([getattr(s, key) for s in out[name]])
        return got.data if task == 'seg' else got

    def expect(logits):
        if task == 'seg':
            return F.interpolate(logits, size=(64, 64), mode='bilinear',
                                 align_corners=False)
        return logits.softmax(1)

    # one modality: exactly its head (the fusion head needs both)
    got = scores('rgb') if task == 'cls' else torch.stack(
        [s.seg_logits.data for s in out['rgb']])
    torch.testing.assert_close(got, expect(modal['rgb']))
    # both: certainty weighting over rgb, depth and the fusion head
    stacked = torch.stack([modal['rgb'], modal['depth'], fusion])
    w = (stacked.softmax(2).amax(2, keepdim=True) / 0.5).softmax(0)
    got = scores('rgb+depth') if task == 'cls' else torch.stack(
        [s.seg_logits.data for s in out['rgb+depth']])
    torch.testing.assert_close(got, expect((w * stacked).sum(0)))


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_fusion_head_errors(task):
    model, batch = _with_fusion(task, in_channels=64)
    inputs, samples = batch(torch.ones(4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'fusion_head.in_channels is \[64\]'
                       r' \(stages \[(3|0)\]\), but the concatenated '
                       r'features have \[128\]'):
        model.forward_record(inputs, samples)
    with pytest.raises(TypeError, match='cannot take a fusion head'):
        LateFusionHead(head=linear(), modalities=LAYOUT,
                       decision=dict(type='LearnedWeightsDecision'),
                       fusion_head=linear(in_channels=128))
    head = LateFusionHead(head=linear(), modalities=LAYOUT,
                          fusion_head=linear(in_channels=128))
    logits = {n: torch.zeros(2, 4) for n in ('rgb', 'depth')}
    with pytest.raises(ValueError, match='pass its logits'):
        head.decide(logits, torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(KeyError, match=r"\['depth'\] are missing"):
        head.forward_fusion({'rgb': (torch.zeros(2, 64), )})
