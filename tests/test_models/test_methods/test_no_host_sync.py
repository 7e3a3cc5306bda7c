"""The training step reads nothing back from the device for its mask
handling, combination selection or loss assembly.

Guarded: the data preprocessor (draws and checks the mask), the model's
``loss`` (record, branch and row choices, selection, mining, method losses,
late-fusion decisions) and the backward pass. ``HostSyncGuard`` marks the
tensors that would live on an accelerator and records every host read of
them; reads inside mm_incomplete fail the test, and so do those of mmseg /
mmpretrain code the step runs (mmseg's pixel accuracy read twice before
``pixel_accuracy`` replaced it). The guarded step is the second:
the first may copy a selection to the host once (it is mirrored there until
it changes).
"""
import json

import pytest
import torch
from mmengine.registry import TASK_UTILS
from mmengine.structures import PixelData
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample

from _sync_guard import HostSyncGuard
from _tiny import LAYOUT, STAGES, cls_model, fcn, linear, seg_model
from mm_incomplete.models.backbones import check_modality_mask
from mm_incomplete.modality import ModalityLayout

PRE = dict(modalities=LAYOUT, mean=dict(rgb=[120.] * 3, depth=[3.]),
           std=dict(rgb=[60.] * 3, depth=[1.]),
           train_sampler=dict(type='ModDrop', drop_prob=0.5, seed=0))


# DI-MML's detached per-modality losses and its stage-2 fusion-head loss
_DIMML = dict(unimodal=dict(type='UnimodalTaskLoss'),
              fusion=dict(type='FusionHeadLoss'))


def _seg(late=False, combinations=('depth', ), decode_head=None):
    methods = dict(
        hard=dict(type='CombinationRegularizer', modalities=LAYOUT,
                  combinations=combinations, head=fcn(loss_weight=0.5),
                  mining_score='embedding_variance'),
        kl=dict(type='ProbabilisticEmbeddingKL'))
    kw = dict(neck=dict(type='ProbabilisticEmbeddingNeck',
                        in_channels=STAGES),
              method_losses=methods)
    if late:
        kw = dict(decode_head=dict(
            type='LateFusionHead', head=fcn(), modalities=LAYOUT,
            decision=dict(type='CertaintyWeightedDecision')))
    if late == 'fusion':  # DI-MML: detached heads + a concat-fusion head
        kw['decode_head'].update(fusion_head=fcn(in_channels=128),
                                 fused_loss=False)
        kw['method_losses'] = _DIMML
    if decode_head is not None:
        kw['decode_head'] = decode_head
    model = seg_model(data_preprocessor=dict(
        PRE, type='MultiModalSegDataPreProcessor', size=(32, 32)), **kw)
    batch = dict(
        inputs=[torch.rand(4, 32, 32) * 255 for _ in range(6)],
        data_samples=[SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(4, (1, 32, 32))), metainfo=dict(
                img_shape=(32, 32), ori_shape=(32, 32)))
            for _ in range(6)])
    return model, batch


def _cls(late=False, combinations=('depth', )):
    kw = dict(
        neck=dict(type='SequentialNeck', necks=[
            dict(type='GlobalAveragePooling'),
            dict(type='ProbabilisticEmbeddingNeck', in_channels=[64])]),
        method_losses=dict(
            hard=dict(type='CombinationRegularizer', modalities=LAYOUT,
                      combinations=combinations, head=linear(0.3),
                      mining_score='embedding_variance'),
            kl=dict(type='ProbabilisticEmbeddingKL')))
    if late:
        kw = dict(head=dict(
            type='LateFusionHead', head=linear(), modalities=LAYOUT,
            decision=dict(type='UncertaintyWeightedDecision'),
            uncertainty=dict(type='PredictiveEntropy')))
    if late == 'fusion':  # DI-MML: detached heads + a concat-fusion head
        kw['head'].update(decision=dict(type='CertaintyWeightedDecision'),
                          fusion_head=linear(in_channels=128),
                          fused_loss=False)
        kw['method_losses'] = _DIMML
    model = cls_model(data_preprocessor=PRE, **kw)
    batch = dict(inputs=[torch.rand(4, 32, 32) * 255 for _ in range(6)],
                 data_samples=[DataSample().set_gt_label(i % 4)
                               for i in range(6)])
    return model, batch


def _step(model, batch):
    data = model.data_preprocessor(batch, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    return losses


@pytest.mark.parametrize('build', [_seg, _cls], ids=['seg', 'cls'])
@pytest.mark.parametrize('variant', ['dmrnet', 'dmrnet-mining', 'late',
                                     'late-fusion-head'])
def test_training_step_reads_nothing_from_the_device(build, variant):
    torch.manual_seed(0)
    model, batch = build(late={'late': True,
                               'late-fusion-head': 'fusion'}.get(variant,
                                                                 False),
                         combinations=None if variant == 'dmrnet-mining'
                         else ['depth'])
    model.train()
    if variant == 'dmrnet-mining':
        model.method_losses.hard.selector.mining = True
    _step(model, batch)  # warm-up: the selection's host mirror
    with HostSyncGuard(model) as guard:
        losses = _step(model, batch)
    assert guard.ours == [], '\n'.join(guard.ours)
    assert guard.others == [], '\n'.join(guard.others)
    assert losses  # the guarded step ran
    if variant == 'late-fusion-head':  # ModDrop: some samples have both
        assert 'loss_ce_fusion' in losses
    if variant == 'dmrnet-mining':
        assert model.method_losses.hard.selector.score_count.sum() == 12


@pytest.mark.parametrize('build', [_seg, _cls], ids=['seg', 'cls'])
def test_late_fusion_step_with_a_modality_absent_from_the_batch(build):
    """Depth absent from every sample: its branch and head do not run and
    the decision rule checks, on the host mask, that no present modality
    lacks logits (it read the device mask before)."""
    torch.manual_seed(0)
    model, batch = build(late=True)
    model.data_preprocessor.train_sampler = TASK_UTILS.build(
        dict(type='FixedCombination', combination='rgb'))
    model.train()
    _step(model, batch)
    with HostSyncGuard(model) as guard:
        losses = _step(model, batch)
    assert guard.ours == [], '\n'.join(guard.ours)
    assert guard.others == [], '\n'.join(guard.others)
    assert losses


def test_paper_setting_seg_step_reads_nothing_from_the_device(tmp_path):
    """The NYUDv2 configs' pieces: ESANet's decoder with its side outputs
    and the file-weighted cross-entropy (normalised by the weight sum of the
    valid pixels), under DMRNet's method losses. Before, this step made
    the host wait 4 times here in the loss (a weight sum per output scale;
    8 with DMRNet's second ESANet decoder) and twice in mmseg's accuracy."""
    weights = tmp_path / 'w.json'
    weights.write_text(json.dumps([0.31, 1.7, 0.9, 1.2]))
    loss = dict(type='FileWeightedCrossEntropyLoss',
                class_weight_file=str(weights), avg_non_ignore=True)
    head = dict(type='ESANetHead', in_channels=STAGES,
                decoder_channels=(16, 8, 4), num_blocks=1, num_classes=4,
                context=dict(context_channels=16), loss_decode=loss)
    torch.manual_seed(0)
    model, batch = _seg(decode_head=head)
    for s in batch['data_samples']:
        s.gt_sem_seg.data[:, :4] = 255  # ignored pixels
    model.train()
    _step(model, batch)
    with HostSyncGuard(model) as guard:
        losses = _step(model, batch)
    assert guard.ours == [], '\n'.join(guard.ours)
    assert guard.others == [], '\n'.join(guard.others)
    assert {'decode.loss_ce', 'decode.loss_ce_down32',
            'decode.acc_seg'} <= set(losses)


def test_the_guard_catches_a_read_in_the_package():
    mask = torch.ones(2, 2, dtype=torch.bool)
    with HostSyncGuard() as guard:
        on_device = mask.to(torch.device('cpu'))
        check_modality_mask(on_device, 2, ModalityLayout(LAYOUT))
    assert guard.ours and 'mask_utils.py' in guard.ours[0]
