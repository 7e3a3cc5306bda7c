"""MMH's RAD and DAD inside the distillers: the `modules` option hands the
models' own classifiers to RAD, RAD alone trains the student, the learned
region weights are optimised and saved, the teacher is neither."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from _builders import save_teacher, seg_batch

LAYOUT = dict(rgb=3, depth=1)
OPTIM = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))


def _cls_net(train_sampler=None):
    # 64 x 64 inputs, last stage at stride 1: a 4 x 4 last map for RAD
    return dict(
        type='MultiModalImageClassifier',
        data_preprocessor=dict(modalities=LAYOUT,
                               train_sampler=train_sampler),
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=4, strides=(1, 2, 2, 1),
                      out_indices=(2, 3)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=32))


@pytest.fixture(scope='module')
def cls_ckpt(tmp_path_factory):
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(1)
    path = str(tmp_path_factory.mktemp('mmh_cls') / 'teacher.pth')
    torch.save({'state_dict': MODELS.build(_cls_net()).state_dict()}, path)
    return path


def _cls_batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(inputs=[torch.rand(4, 64, 64, generator=g) * 255
                        for _ in range(n)],
                data_samples=[DataSample().set_gt_label(i % 4)
                              for i in range(n)])


def _rad(weighting='attention', **kw):
    return dict(type='RegionAwareDistillLoss', weighting=weighting,
                loss_weight=0.4,
                inputs=dict(map_s='student.stage4', map_t='teacher.stage4'),
                modules=dict(classifier_s='student.head.fc',
                             classifier_t='teacher.head.fc'), **kw)


def _cls_distiller(ckpt, losses, sampler=None):
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    recorders = dict(stage3=dict(path='backbone', index=0),
                     stage4=dict(path='backbone', index=1))
    return MODELS.build(dict(
        type='ClsDistiller',
        student=_cls_net(sampler or dict(type='FixedCombination',
                                         combination='rgb')),
        teacher=_cls_net(), teacher_ckpt=ckpt,
        student_recorders=recorders, teacher_recorders=recorders,
        distill_losses=losses))


def _loss_terms(model, batch):
    data = model.data_preprocessor(batch, True)
    return model(**data, mode='loss')


def test_rad_alone_backpropagates_into_the_student(cls_ckpt):
    model = _cls_distiller(cls_ckpt, dict(loss_rad=_rad('uniform')))
    model.train()
    losses = _loss_terms(model, _cls_batch())
    assert set(losses) == {'loss', 'loss_rad'}  # mmpretrain's CE is 'loss'
    losses['loss_rad'].backward()  # RAD alone
    fc = model.student.head.fc.weight.grad
    rgb = model.student.backbone.branches.rgb.layer4[0].conv1.weight.grad
    assert fc is not None and fc.abs().sum() > 0
    assert rgb is not None and rgb.abs().sum() > 0
    # the student sees RGB only: the depth branch did not run
    assert model.student.backbone.branches.depth.layer4[0].conv1.weight \
        .grad is None
    assert all(p.grad is None and not p.requires_grad
               for p in model.teacher.parameters())


def test_rad_uses_each_models_own_classifier(cls_ckpt):
    # a student whose fc equals the teacher's and whose features equal the
    # teacher's gives zero RAD; changing only the student's fc makes it > 0
    model = _cls_distiller(cls_ckpt, dict(loss_rad=_rad('uniform')),
                           sampler=dict(type='FixedCombination',
                                        combination=None))
    model.student.load_state_dict(model.teacher.state_dict())
    model.eval()  # identical BatchNorm behaviour for both
    batch = _cls_batch()
    data = model.data_preprocessor(batch, True)
    assert model.loss(**data)['loss_rad'].item() == pytest.approx(0.0,
                                                                  abs=1e-6)
    with torch.no_grad():
        model.student.head.fc.weight.mul_(-1)
    assert model.loss(**data)['loss_rad'].item() > 1e-3


def test_learned_region_weights_are_optimised_and_saved_teacher_is_not(
        cls_ckpt, tmp_path):
    dad = dict(type='DiscrepancyAwareDistillLoss', samples='image',
               inputs=dict(feat_s='student.stage3', feat_t='teacher.stage3'))
    model = _cls_distiller(cls_ckpt, dict(loss_rad=_rad('attention'),
                                          loss_dad_stage3=dad))
    attention = model.distill_losses.loss_rad.attention
    optim = build_optim_wrapper(model, OPTIM)
    in_optim = {id(p) for g in optim.optimizer.param_groups
                for p in g['params']}
    assert id(attention.query.weight) in in_optim
    assert id(attention.key.weight) in in_optim
    assert not any(id(p) in in_optim for p in model.teacher.parameters())
    # the student's fc is optimised once (RAD does not register a copy)
    assert sum(p is model.student.head.fc.weight
               for g in optim.optimizer.param_groups
               for p in g['params']) == 1

    before = attention.query.weight.detach().clone()
    teacher_before = {k: v.clone()
                      for k, v in model.teacher.state_dict().items()}
    model.train()
    log = model.train_step(_cls_batch(), optim)
    assert {'loss', 'loss_rad', 'loss_dad_stage3'} <= set(log)
    assert not torch.equal(before, attention.query.weight)
    assert all(torch.equal(teacher_before[k], v)
               for k, v in model.teacher.state_dict().items())

    state = model.state_dict()
    assert 'distill_losses.loss_rad.attention.query.weight' in state
    assert 'distill_losses.loss_rad.attention.key.weight' in state
    assert not any(k.startswith('teacher') for k in state)
    assert not any('classifier' in k for k in state)
    path = tmp_path / 'mmh.pth'
    torch.save({'state_dict': state}, path)
    fresh = _cls_distiller(cls_ckpt, dict(loss_rad=_rad('attention'),
                                          loss_dad_stage3=dad))
    fresh.load_state_dict(torch.load(path)['state_dict'])
    assert torch.equal(fresh.distill_losses.loss_rad.attention.query.weight,
                       attention.query.weight)


def test_modules_option_is_checked(cls_ckpt):
    with pytest.raises(ValueError, match="no module 'head.fcc'"):
        _cls_distiller(cls_ckpt, dict(loss_rad=_rad() | dict(
            modules=dict(classifier_s='student.head.fcc',
                         classifier_t='teacher.head.fc'))))
    with pytest.raises(ValueError, match='student.<module path>'):
        _cls_distiller(cls_ckpt, dict(loss_rad=_rad() | dict(
            modules=dict(classifier_s='head.fc',
                         classifier_t='teacher.head.fc'))))
    with pytest.raises(ValueError, match='both `inputs` and `modules`'):
        _cls_distiller(cls_ckpt, dict(loss_rad=_rad() | dict(
            modules=dict(map_s='student.head.fc',
                         classifier_t='teacher.head.fc'))))


def test_seg_distiller_rad_on_logits_and_dad_on_pixels(tmp_path):
    from mmseg.registry import MODELS
    net = dict(
        type='MultiModalEncoderDecoder',
        data_preprocessor=dict(
            type='MultiModalSegDataPreProcessor', modalities=LAYOUT,
            mean=dict(rgb=[128.] * 3, depth=[2.]),
            std=dict(rgb=[64.] * 3, depth=[1.]), size=(32, 32),
            train_sampler=dict(type='ModDrop', drop_prob=0.5, seed=0)),
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=4),
        # logits at 1/4 (8 x 8): room for the 4 x 4 regions
        decode_head=dict(type='FCNHead', in_channels=4, in_index=0,
                         channels=8, num_convs=1, num_classes=5),
        test_cfg=dict(mode='whole'))
    ckpt = str(tmp_path / 'teacher.pth')
    save_teacher(ckpt, net)
    recorders = dict(logits='decode_head.conv_seg',
                     stage3=dict(path='backbone', index=2),
                     stage4=dict(path='backbone', index=3))
    dad = dict(type='DiscrepancyAwareDistillLoss', samples='pixel')
    model = MODELS.build(dict(
        type='SegDistiller', student=net, teacher=net, teacher_ckpt=ckpt,
        student_recorders=recorders,
        teacher_recorders=dict(recorders, head_feats='decode_head.convs'),
        distill_losses=dict(
            loss_rad=dict(type='RegionAwareDistillLoss',
                          weighting='strength', loss_weight=0.4,
                          inputs=dict(map_s='student.logits',
                                      map_t='teacher.logits',
                                      strength_map_t='teacher.head_feats')),
            loss_dad_stage3=dict(dad, inputs=dict(feat_s='student.stage3',
                                                  feat_t='teacher.stage3')),
            loss_dad_stage4=dict(dad, inputs=dict(feat_s='student.stage4',
                                                  feat_t='teacher.stage4')))))
    model.train()
    losses = _loss_terms(model, seg_batch(n=3))
    assert {'loss_rad', 'loss_dad_stage3', 'loss_dad_stage4'} <= set(losses)
    assert all(torch.isfinite(v) and v > 0 for k, v in losses.items()
               if k.startswith('loss_'))
    losses['loss_rad'].backward()
    grad = model.student.decode_head.conv_seg.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    optim = build_optim_wrapper(model, OPTIM)
    log = model.train_step(seg_batch(n=3, seed=1), optim)
    assert 'loss_rad' in log


def test_training_step_reads_nothing_from_the_device(cls_ckpt):
    from _sync_guard import HostSyncGuard
    dad = dict(type='DiscrepancyAwareDistillLoss', samples='image', knn=3,
               inputs=dict(feat_s='student.stage3', feat_t='teacher.stage3'))
    model = _cls_distiller(cls_ckpt, dict(loss_rad=_rad('attention'),
                                          loss_dad_stage3=dad),
                           sampler=dict(type='ModDrop', drop_prob=0.5,
                                        seed=0))
    model.train()

    def step():
        data = model.data_preprocessor(_cls_batch(), True)
        losses = model(**data, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        return losses

    step()
    with HostSyncGuard(model) as guard:
        losses = step()
    assert guard.ours == [], '\n'.join(guard.ours)
    assert {'loss_rad', 'loss_dad_stage3'} <= set(losses)
