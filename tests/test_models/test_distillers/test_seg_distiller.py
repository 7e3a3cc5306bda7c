"""SegDistiller: frozen teacher, two views, losses, prediction, errors."""

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from _builders import (save_teacher, seg_batch, seg_distiller, seg_net)


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    save_teacher(path)
    return path


def _build(ckpt, **kw):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(seg_distiller(ckpt, **kw))


def _optim(model):
    return build_optim_wrapper(model, dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))


def test_teacher_frozen_eval_and_bit_identical_after_training(ckpt):
    model = _build(ckpt, train_sampler=dict(type='ModDrop', drop_prob=0.5,
                                            seed=0),
                   aux_combinations=['depth'])
    saved = torch.load(ckpt)['state_dict']
    assert all(torch.equal(v, model.teacher.state_dict()[k])
               for k, v in saved.items())
    optim = _optim(model)
    model.train()
    model.teacher.train()  # a stray call cannot flip it
    student_before = {k: v.clone() for k, v in model.student.state_dict()
                      .items()}
    for step in range(3):
        log = model.train_step(seg_batch(seed=step), optim)
        assert 'loss_mad' in log and 'mar.loss_ce' in log
    assert not model.teacher.training
    assert not any(m.training for m in model.teacher.modules())
    assert not any(p.requires_grad for p in model.teacher.parameters())
    after = model.teacher.state_dict()
    # weights and BN running statistics: bit-identical
    assert all(torch.equal(saved[k], after[k]) for k in saved)
    # ... while the student did learn
    assert any(not torch.equal(v, model.student.state_dict()[k])
               for k, v in student_before.items() if v.is_floating_point())


def test_teacher_not_in_optimizer_parameters_or_state_dict(ckpt):
    model = _build(ckpt)
    optim = _optim(model)
    teacher_ids = {id(p) for p in model.teacher.parameters()}
    optimised = {id(p) for g in optim.optimizer.param_groups
                 for p in g['params']}
    assert teacher_ids and not teacher_ids & optimised
    assert not teacher_ids & {id(p) for p in model.parameters()}
    keys = list(model.state_dict())
    assert keys and not any(k.startswith(('teacher', '_teacher'))
                            for k in keys)
    # every saved key belongs to the student, the regularizer or the
    # preprocessor: nothing of the teacher sneaks in under another name
    n_teacher = len(model.teacher.state_dict())
    n_student = len(model.student.state_dict())
    assert len([k for k in keys if k.startswith('student.')]) == n_student
    assert n_teacher == n_student
    # the runner's module moves carry the teacher along
    model.double()
    assert next(model.teacher.parameters()).dtype == torch.float64


def _record_views(model):
    seen = {}
    model.teacher.backbone.register_forward_pre_hook(
        lambda m, args: seen.__setitem__('teacher', args))
    model.student.backbone.register_forward_pre_hook(
        lambda m, args: seen.__setitem__('student', args))
    return seen


def test_teacher_sees_full_view_student_masked(ckpt):
    model = _build(ckpt, train_sampler=dict(type='FixedCombination',
                                            combination='rgb'))
    seen = _record_views(model)
    model.train_step(seg_batch(), _optim(model))
    x_t, mask_t = seen['teacher']
    x_s, mask_s = seen['student']
    assert mask_t.all() and mask_s[:, 0].all() and not mask_s[:, 1].any()
    assert x_t[:, 3].abs().sum() > 0           # teacher has depth
    assert x_s[:, 3].abs().sum() == 0          # student's depth is zeroed
    assert torch.equal(x_t[:, :3], x_s[:, :3])  # same augmented RGB


def test_views_survive_the_ddp_step_path_and_teacher_combination(ckpt):
    # MMDistributedDataParallel.train_step calls the preprocessor and then
    # forward(**data, mode='loss') itself, bypassing the model's train_step
    model = _build(ckpt, train_sampler=dict(type='FixedCombination',
                                            combination='depth'),
                   teacher_combination='rgb')
    seen = _record_views(model)
    data = model.data_preprocessor(seg_batch(), training=True)
    losses = model(**data, mode='loss')
    assert 'loss_mad' in losses
    x_t, mask_t = seen['teacher']
    x_s, mask_s = seen['student']
    assert mask_t[:, 0].all() and not mask_t[:, 1].any()
    assert x_t[:, 3].abs().sum() == 0 and x_t[:, :3].abs().sum() > 0
    assert x_s[:, :3].abs().sum() == 0 and torch.equal(x_s[:, 3], data[
        'inputs'][:, 3])
    # evaluation: the student's preprocessor, settable test combination
    model.data_preprocessor.test_combination = 'rgb'
    assert model.student.data_preprocessor.test_combination == ('rgb', )
    out = model.data_preprocessor(seg_batch(), training=False)
    assert set(out) == {'inputs', 'data_samples'}
    assert out['inputs'][:, 3].abs().sum() == 0


def test_warmup_scale_zero_skips_teacher_and_distill_losses(ckpt):
    model = _build(ckpt)
    calls = []
    model.teacher.register_forward_pre_hook(lambda *a: calls.append(1))
    model.distill_losses.loss_scale = 0.0
    log = model.train_step(seg_batch(), _optim(model))
    assert 'loss_mad' not in log and not calls
    model.distill_losses.loss_scale = 0.5
    log = model.train_step(seg_batch(), _optim(model))
    assert 'loss_mad' in log and calls


def test_loss_is_student_loss_plus_weighted_mad(ckpt):
    model = _build(ckpt, aux_heads=None)
    model.train()
    data = model.data_preprocessor(seg_batch(), True)
    torch.manual_seed(3)
    losses = model.loss(data['inputs'], data['data_samples'])
    torch.manual_seed(3)
    student = model.student.loss(data['inputs'], data['data_samples'])
    assert set(losses) == set(student) | {'loss_mad'}
    assert torch.allclose(losses['decode.loss_ce'], student['decode.loss_ce'])
    # by hand: MAD on the recorded last-stage features
    feats_s = model.student.extract_feat(
        data['inputs'], model.student._mask_of(data['inputs'],
                                               data['data_samples']))
    with torch.no_grad():
        feats_t = model.teacher.extract_feat(data['inputs'])
        logits_t = model.teacher.decode_head(feats_t)
    mad = MODELS.build(dict(type='MarginAwareDistillLoss', loss_weight=4.0))
    assert losses['loss_mad'].item() == pytest.approx(
        mad(feats_s[3], feats_t[3], logits_t).item(), rel=1e-4)


def test_prediction_goes_to_the_student(ckpt):
    model = _build(ckpt).eval()
    data = seg_batch()
    ours = model.val_step(data)
    theirs = model.student.val_step(seg_batch())
    for a, b in zip(ours, theirs):
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)
    pre = model.data_preprocessor(seg_batch(), False)
    combos = model.predict_combinations(pre['inputs'], pre['data_samples'],
                                        'all')
    assert sorted(combos) == ['depth', 'rgb', 'rgb+depth']
    assert model.layout.names == ('rgb', 'depth')


def test_missing_teacher_checkpoint_names_the_path(tmp_path):
    path = str(tmp_path / 'nowhere' / 'teacher.pth')
    with pytest.raises(FileNotFoundError, match='nowhere/teacher.pth'):
        _build(path)


def test_mismatched_teacher_keys_are_listed(tmp_path):
    path = str(tmp_path / 'other.pth')
    cfg = seg_net()
    cfg['decode_head'] = dict(cfg['decode_head'], num_convs=2)
    save_teacher(path, cfg)
    with pytest.raises(ValueError) as err:
        _build(path)
    msg = str(err.value)
    assert path in msg and 'unexpected keys' in msg
    assert 'decode_head.convs.1.conv.weight' in msg


def test_bad_recorder_and_input_names(ckpt):
    with pytest.raises(KeyError, match='no submodule'):
        _build(ckpt, student_recorders=dict(x='backbone.nope'))
    with pytest.raises(ValueError, match='student.nope'):
        _build(ckpt, distill_losses=dict(loss_x=dict(
            type='FeatureMSEDistillLoss',
            inputs=dict(feat_s='student.nope', feat_t='teacher.c4'))))
    with pytest.raises(ValueError, match='must contain "loss"'):
        _build(ckpt, distill_losses=dict(mad=dict(
            type='FeatureMSEDistillLoss',
            inputs=dict(feat_s='student.c4', feat_t='teacher.c4'))))
    with pytest.raises(ValueError, match='data preprocessor'):
        _build(ckpt, data_preprocessor=dict(type='SegDataPreProcessor'))


def test_teacher_preprocessor_state_is_ignored_and_prefix_strips(tmp_path,
                                                                  ckpt):
    state = torch.load(ckpt)['state_dict']
    # e.g. a sampler's generator state saved by the teacher's own run
    extra = dict(state, **{'data_preprocessor._extra_state': {'g': 1}})
    path = str(tmp_path / 'with_extra.pth')
    torch.save({'state_dict': extra}, path)
    model = _build(path)
    assert torch.equal(model.teacher.state_dict()['decode_head.conv_seg.bias'],
                       state['decode_head.conv_seg.bias'])
    # the student of a distiller checkpoint as a teacher
    path = str(tmp_path / 'distiller.pth')
    torch.save({'state_dict': model.state_dict()}, path)
    again = _build(path, teacher_ckpt_prefix='student.')
    assert torch.equal(
        again.teacher.state_dict()['decode_head.conv_seg.weight'],
        model.student.state_dict()['decode_head.conv_seg.weight'])
