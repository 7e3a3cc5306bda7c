"""ClsDistiller: MAD over images, MAR head, frozen teacher, prediction."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

LAYOUT = dict(rgb=3, depth=1)


def _net(train_sampler=None):
    return dict(
        type='MultiModalImageClassifier',
        data_preprocessor=dict(modalities=LAYOUT,
                               train_sampler=train_sampler),
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=4, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=32))


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    init_default_scope('mmpretrain')
    torch.manual_seed(1)
    path = str(tmp_path_factory.mktemp('cls') / 'teacher.pth')
    torch.save({'state_dict': MODELS.build(_net()).state_dict()}, path)
    return path


def _batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(inputs=[torch.rand(4, 32, 32, generator=g) * 255
                        for _ in range(n)],
                data_samples=[DataSample().set_gt_label(i % 4)
                              for i in range(n)])


def _distiller(ckpt, combinations=('depth', )):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='ClsDistiller',
        student=_net(dict(type='UniformCombinations', seed=0)),
        teacher=_net(),
        teacher_ckpt=ckpt,
        student_recorders=dict(c4=dict(path='backbone', index=0),
                               pooled='neck'),
        teacher_recorders=dict(c4=dict(path='backbone', index=0),
                               logits='head.fc'),
        aux_heads=dict(mar=dict(
            inputs='student.pooled',
            head=dict(type='CombinationRegularizerClsHead',
                      modalities=LAYOUT, combinations=list(combinations),
                      head=dict(type='LinearClsHead', num_classes=4,
                                in_channels=32,
                                loss=dict(type='CrossEntropyLoss',
                                          loss_weight=0.5))))),
        distill_losses=dict(loss_mad=dict(
            type='MarginAwareDistillLoss', samples='image', num_splits=1,
            loss_weight=30.0,
            inputs=dict(feat_s='student.c4', feat_t='teacher.c4',
                        logits_t='teacher.logits')))))


def test_train_steps_keep_teacher_and_log_every_term(ckpt):
    model = _distiller(ckpt)
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    model.train()
    for step in range(2):
        log = model.train_step(_batch(seed=step), optim)
    assert {'loss', 'loss_mad', 'mar.loss'} <= set(log)
    assert log['loss_mad'] > 0
    after = model.teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.teacher.training
    assert not any(k.startswith('teacher') for k in model.state_dict())


def test_mar_head_counts_only_selected_samples(ckpt):
    model = _distiller(ckpt, combinations=('rgb', ))
    model.train()
    data = model.data_preprocessor(_batch(), True)
    from mm_incomplete.modality import set_modality_masks
    # no sample of the selected combination: the head's loss is exactly 0
    set_modality_masks(data['data_samples'],
                       torch.tensor([[True, True]] * 4))
    losses = model.loss(data['inputs'], data['data_samples'])
    assert losses['mar.loss'].item() == 0.0
    set_modality_masks(data['data_samples'],
                       torch.tensor([[True, False]] * 2 + [[True, True]] * 2))
    losses = model.loss(data['inputs'], data['data_samples'])
    assert losses['mar.loss'].item() > 0


def test_prediction_is_the_students(ckpt):
    model = _distiller(ckpt).eval()
    ours = model.val_step(_batch())
    theirs = model.student.val_step(_batch())
    for a, b in zip(ours, theirs):
        assert torch.equal(a.pred_score, b.pred_score)
