"""configs/onestage: the one-stage distillers built from their configs with a
teacher trained by the teacher config: teacher frozen and not saved, every
loss term, where the transfer losses' gradients go, and that the transfer
decoder (and the teacher) never run at inference."""
import importlib

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from mm_incomplete.utils import config_path

SCOPES = dict(seg=('mmseg', 'mmseg.registry'),
              cls=('mmpretrain', 'mmpretrain.registry'))


def _build(tmp_path, task):
    scope, registry = SCOPES[task]
    models = importlib.import_module(registry).MODELS
    init_default_scope(scope)
    teacher_cfg = Config.fromfile(
        config_path(f'onestage/synthetic_{task}_depth_teacher_cpu.py'))
    torch.manual_seed(1)
    teacher = models.build(teacher_cfg.model)
    for m in teacher.modules():  # statistics that would visibly move
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    cfg = Config.fromfile(config_path(f'onestage/synthetic_{task}_cpu.py'))
    cfg.model.teacher_ckpt = ckpt
    return models.build(cfg.model), teacher.state_dict()


def _batch(task, n=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.rand(4, size, size, generator=g) * 255 for _ in range(n)]
    for x in inputs:
        x[3] = x[3] / 50 + 0.5  # depth in metres
    if task == 'seg':
        from mmseg.structures import SegDataSample
        samples = []
        for _ in range(n):
            s = SegDataSample(metainfo=dict(img_shape=(size, size),
                                            ori_shape=(size, size)))
            s.gt_sem_seg = PixelData(
                data=torch.randint(0, 9, (1, size, size), generator=g))
            samples.append(s)
    else:
        from mmpretrain.structures import DataSample
        samples = [DataSample().set_gt_label(i % 8) for i in range(n)]
    return dict(inputs=inputs, data_samples=samples)


def _calls(module):
    calls = []
    module.register_forward_hook(lambda *args: calls.append(1))
    return calls


@pytest.fixture(scope='module', params=['seg', 'cls'])
def built(request, tmp_path_factory):
    return request.param, _build(tmp_path_factory.mktemp(request.param),
                                 request.param)


def test_configs_wire_the_paper_components(built):
    task, (model, _) = built
    backbone = model.student.backbone
    assert backbone.feedback == 'rgb'
    assert backbone.branch_inputs == dict(depth='rgb')
    assert {type(f).__name__ for f in backbone.fusions.values()} == {
        'CrossTranslationFusion'}
    assert set(backbone.fusions) == {'stem', 'layer1', 'layer2', 'layer3',
                                     'layer4'}
    assert model.teacher_combination == ('depth', )
    transfer = model.distill_losses['loss_transfer']
    assert transfer.jmmd.softmax_bandwidth == 1.68
    assert transfer.jmmd.bandwidth_factors == (0.25, 0.5, 1.0, 2.0, 4.0)
    assert transfer.jmmd.samples == ('pixel' if task == 'seg' else 'image')
    # the chosen weights (configs/onestage/README.md)
    assert transfer.kd.loss_weight == 1.0 and transfer.kd.tau == 1.0
    assert transfer.jmmd.loss_weight == (0.03 if task == 'seg' else 0.01)
    assert model.distill_losses['loss_ctn_rec'].loss_weight == 1.0
    if task == 'seg':
        assert transfer.jmmd.pool_size == (30, 40)
        assert transfer.jmmd.max_samples == 512


def test_teacher_frozen_and_absent_from_checkpoint_and_optimizer(built):
    task, (model, teacher_state) = built
    state = model.state_dict()
    assert not any(k.startswith('teacher') or '._teacher' in k
                   for k in state)
    # the training-only transfer decoder is saved and optimised
    assert any(k.startswith('distill_losses.loss_transfer.decoder.')
               for k in state)
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    ids = {id(p) for group in optim.optimizer.param_groups
           for p in group['params']}
    assert not ids & {id(p) for p in model.teacher.parameters()}
    assert {id(p) for p in model.distill_losses.parameters()} <= ids
    assert not any(p.requires_grad for p in model.teacher.parameters())
    model.train()
    log = model.train_step(_batch(task), optim)
    assert not model.teacher.training
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_state[k]), k
    keys = {'loss_transfer.loss_kd', 'loss_transfer.loss_jmmd',
            'loss_ctn_rec'}
    assert keys <= set(log)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log.values())


def _losses(model, task, seed=0):
    model.train()
    data = model.data_preprocessor(_batch(task, seed=seed), True)
    return model(**data, mode='loss')


@pytest.mark.parametrize('term', ['loss_transfer.loss_kd',
                                  'loss_transfer.loss_jmmd'])
def test_transfer_losses_reach_the_hallucination_branch_only(built, term):
    task, (model, _) = built
    model.zero_grad()
    losses = _losses(model, task)
    assert float(losses[term]) > 0
    losses[term].backward()
    student = model.student
    hall = student.backbone.branches['depth']
    # every stage of the hallucination encoder that the term sees
    stages = (1, 2, 3, 4) if term.endswith('kd') else (1, 2, 3)
    for i in stages:
        grads = [p.grad for p in getattr(hall, f'layer{i}').parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), i
    # not the RGB encoder, the CTN or the fusion decoder
    rgb = student.backbone.branches['rgb']
    head = student.decode_head if task == 'seg' else student.head
    for part in (rgb, student.backbone.fusions, head):
        assert all(p.grad is None or p.grad.abs().sum() == 0
                   for p in part.parameters())


def test_reconstruction_loss_reaches_the_translators(built):
    task, (model, _) = built
    model.zero_grad()
    _losses(model, task)['loss_ctn_rec'].backward()
    fusions = model.student.backbone.fusions
    for ctn in fusions.values():
        assert ctn.translators[0][0].weight.grad.abs().sum() > 0
    # a block's fused output feeds later blocks' RGB inputs (feedback), so
    # only the last block's joint convolution is outside the loss
    assert fusions['layer4'].joint[0].weight.grad is None
    assert fusions['layer3'].joint[0].weight.grad.abs().sum() > 0


def test_transfer_decoder_and_teacher_do_not_run_at_inference(built):
    task, (model, _) = built
    decoder = _calls(model.distill_losses['loss_transfer'].decoder)
    teacher = _calls(model.teacher)
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(_batch(task), False)
        out = model.predict_combinations(data['inputs'],
                                         data['data_samples'], 'rgb')
        model.val_step(_batch(task))
    assert set(out) == {'rgb'}
    assert decoder == [] and teacher == []
    _losses(model, task)
    assert decoder == [1] and teacher == [1]


def test_depth_at_test_time_is_never_read(built):
    """The deployed student under `rgb+depth` predicts exactly what it
    predicts under `rgb`, whatever the depth; `depth` alone (no RGB for
    either encoder) is an error naming the option."""
    task, (model, _) = built
    model.eval()
    with torch.no_grad():
        inputs = model.data_preprocessor(_batch(task), False)['inputs']
        inputs[:, 3] = torch.randn_like(inputs[:, 3])  # a depth map
        inputs2 = inputs.clone()
        inputs2[:, 3] = torch.randn_like(inputs[:, 3])  # another one
        rgb, full = (model.student.layout.combination_mask(c).expand(2, -1)
                     for c in (('rgb', ), ('rgb', 'depth')))
        got = model.student.logits_for_masks(inputs, [rgb, full])
        got2 = model.student.logits_for_masks(inputs2, [full])
    assert torch.equal(got[0], got[1]) and torch.equal(got[0], got2[0])
    with pytest.raises(ValueError, match='branch_inputs'), torch.no_grad():
        data = model.data_preprocessor(_batch(task), False)
        model.predict_combinations(data['inputs'], data['data_samples'],
                                   'depth')


def test_nyud_config_has_the_paper_setting():
    cfg = Config.fromfile(config_path('onestage/nyud_rgbd.py'))
    model = cfg.model
    assert model.type == 'SegDistiller'
    assert model.teacher_combination == 'depth'
    assert model.student.backbone.depth == 50
    assert model.student.backbone.branch_inputs == dict(depth='rgb')
    assert model.student.backbone.fusion.type == 'CrossTranslationFusion'
    assert model.teacher.backbone.fusion.type == 'SqueezeExciteFusion'
    assert cfg.crop_size == (480, 640)
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert model.distill_losses.loss_transfer.decoder.head == \
        model.student.decode_head
    teacher = Config.fromfile(
        config_path('onestage/nyud_rgbd_depth_teacher.py'))
    assert teacher.model.backbone == model.teacher.backbone
    assert teacher.model.data_preprocessor.train_sampler.combination == \
        'depth'
    student = Config.fromfile(config_path('onestage/nyud_rgbd_student.py'))
    assert student.model == model.student
    # the transfer decoder is the fusion decoder: ESANet's neck and head
    assert model.distill_losses.loss_transfer.decoder.neck == \
        model.student.neck


def test_nyud_teacher_recorders_play_their_roles():
    """On ESANet's decoder: `context` is the context module's output
    (1/32, 512 channels), `logits` the head's full-size output and
    `side32/16/8` its side outputs (what the transfer decoder's scales are
    compared with)."""
    from mmseg.registry import MODELS

    from mm_incomplete.models.distillers import FeatureRecorder
    init_default_scope('mmseg')
    model = Config.fromfile(config_path('onestage/nyud_rgbd.py')).model
    assert model.distill_losses.loss_transfer.context == \
        model.teacher_recorders.context == 'neck.context'
    torch.manual_seed(0)
    teacher = MODELS.build(model.teacher).eval()
    rec = FeatureRecorder(teacher, model.teacher_recorders)
    x = torch.rand(1, 4, 64, 80)
    with rec, torch.no_grad():
        out = teacher(x, mode='tensor')
        neck = teacher.neck(teacher.backbone(x))
    assert out.shape == (1, 40, 64, 80)
    assert torch.equal(rec.get('logits'), out)
    assert torch.equal(rec.get('context'), neck[3])
    assert rec.get('context').shape == (1, 512, 2, 3)
    # the side outputs (1/32, 1/16, 1/8), in the order of the transfer
    # decoder's supervised scales, run in tensor mode
    with torch.no_grad():
        main, sides = teacher.decode_head.forward_with_sides(neck)
    logits_t = model.distill_losses.loss_transfer.inputs.logits_t
    assert logits_t == ['teacher.logits', 'teacher.side32',
                        'teacher.side16', 'teacher.side8']
    recorded = [rec.get(n.partition('.')[2]) for n in logits_t]
    assert all(torch.equal(a, b) for a, b in zip(recorded, [main, *sides]))
    assert [tuple(z.shape[2:]) for z in recorded] == \
        [(64, 80), (2, 3), (4, 5), (8, 10)]


def test_list_inputs_of_distill_losses_are_checked(tmp_path):
    from _builders import save_teacher, seg_distiller
    from mmseg.registry import MODELS
    ckpt = str(tmp_path / 't.pth')
    save_teacher(ckpt)
    rec = dict(type='CrossTranslationReconstructionLoss')
    for errors, match in (([], 'empty list'),
                          (['student.c4', 'student.nothing'],
                           "'student.nothing', which is no recorded")):
        cfg = seg_distiller(ckpt, aux_heads=None, distill_losses=dict(
            loss_rec=dict(rec, inputs=dict(errors=errors))))
        with pytest.raises(ValueError, match=match):
            MODELS.build(cfg)


def _nyud_distiller(tmp_path, monkeypatch):
    """configs/onestage/nyud_rgbd.py built (teacher randomly initialised,
    class weights written to tmp_path) and a 2-image 64 x 80 batch."""
    import json

    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    import mm_incomplete.models.distillers.base_distiller as base
    monkeypatch.setattr(base, 'load_teacher_checkpoint',
                        lambda teacher, path, prefix=None: None)
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path('onestage/nyud_rgbd.py'))
    weights = tmp_path / 'class_weights.json'
    weights.write_text(json.dumps([1.0 + i / 40 for i in range(40)]))
    for model in (cfg.model.student, cfg.model.teacher,
                  cfg.model.distill_losses.loss_transfer.decoder):
        head = model.get('decode_head', model.get('head'))
        head.loss_decode.class_weight_file = str(weights)
    cfg.model.student.data_preprocessor.size = (64, 80)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(64, 80),
                                        ori_shape=(64, 80)))
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, 40, (1, 64, 80), generator=g))
        samples.append(s)
    batch = dict(inputs=[torch.rand(4, 64, 80, generator=g) * 255
                         for _ in range(2)], data_samples=samples)
    return cfg, model, model.data_preprocessor(batch, True)


def test_nyud_kd_at_every_supervised_scale_reaches_every_parameter(
        tmp_path, monkeypatch):
    """ESANet's head supervises 4 scales: the per-scale KD pairs the
    transfer decoder's with the teacher's recorded ones, and one loss step
    gives every trainable parameter a gradient (the transfer decoder's side
    outputs included), so the config runs DDP without
    find_unused_parameters."""
    cfg, model, data = _nyud_distiller(tmp_path, monkeypatch)
    assert cfg.find_unused_parameters is False
    kd_calls = []
    model.distill_losses.loss_transfer.kd.register_forward_hook(
        lambda m, args, out: kd_calls.append(
            (tuple(args[0].shape), tuple(args[1].shape))))
    losses = model(**data, mode='loss')
    assert kd_calls == [((2, 40, 64, 80), ) * 2, ((2, 40, 2, 3), ) * 2,
                        ((2, 40, 4, 5), ) * 2, ((2, 40, 8, 10), ) * 2]
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or
                                       not p.grad.abs().sum() > 0)]
    assert no_grad == []
    sides = [f'distill_losses.loss_transfer.decoder.head.decoder.{i}.'
             f'side_output.weight' for i in range(3)]
    params = dict(model.named_parameters())
    assert all(params[n].grad.abs().sum() > 0 for n in sides)
