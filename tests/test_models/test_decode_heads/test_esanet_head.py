"""ESANet's decoder: shapes, learned upsampling, multi-scale supervision
against an independent computation, gradients, every-combination reuse."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mm_incomplete  # noqa: F401  registers the modules
from mm_incomplete.models.decode_heads import (ESANetHead, NonBottleneck1D,
                                              Upsample2x)
from mm_incomplete.models.necks import ESANetContextNeck

IN = [8, 16, 32, 64]          # backbone levels 1/4 .. 1/32
SKIPS = (4, 8, 16)            # projected 1/4, 1/8, 1/16
DEC = (16, 8, 4)              # decoder modules


def feats(b=2, size=64, channels=IN, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, c, size // 2**(i + 2), size // 2**(i + 2),
                        generator=g) for i, c in enumerate(channels)]


def make_head(**kw):
    cfg = dict(in_channels=list(SKIPS) + [16], decoder_channels=DEC,
               num_blocks=2, num_classes=5)
    cfg.update(kw)
    return ESANetHead(**cfg)


def samples_with_labels(labels):
    out = []
    for lab in labels:
        s = SegDataSample(metainfo=dict(img_shape=lab.shape,
                                        ori_shape=lab.shape))
        s.gt_sem_seg = PixelData(data=lab[None])
        out.append(s)
    return out


def test_neck_projects_skips_and_keeps_a_matching_level():
    neck = ESANetContextNeck(IN, skip_channels=(4, 16, 16),
                             context_channels=16)
    outs = neck(feats())
    assert [tuple(o.shape[1:]) for o in outs] == \
        [(4, 16, 16), (16, 8, 8), (16, 4, 4), (16, 2, 2)]
    # the 1/8 level already has 16 channels: passed through (ESANet's rule)
    assert isinstance(neck.skips[1], torch.nn.Identity)
    with pytest.raises(ValueError, match='level 2: expected 32 channels'):
        neck(feats(channels=[8, 16, 30, 64]))


def test_head_outputs_full_size_and_side_outputs():
    neck = ESANetContextNeck(IN, SKIPS, context_channels=16)
    head = make_head()
    x = neck(feats(size=64))
    assert head(x).shape == (2, 5, 64, 64)
    main, sides = head.forward_with_sides(x)
    assert torch.equal(main, head(x))
    assert [tuple(s.shape) for s in sides] == \
        [(2, 5, 2, 2), (2, 5, 4, 4), (2, 5, 8, 8)]
    # self-contained: the head builds the context neck itself
    full = ESANetHead(in_channels=IN, decoder_channels=DEC, num_blocks=1,
                      num_classes=5, context=dict(context_channels=16))
    assert full(feats(size=64)).shape == (2, 5, 64, 64)


def test_mismatched_skips_and_channels_are_errors():
    with pytest.raises(ValueError, match='skips of'):
        ESANetHead(in_channels=[4, 8, 32, 16], decoder_channels=DEC,
                   num_classes=3)
    with pytest.raises(ValueError, match='leave it unset'):
        ESANetHead(in_channels=[4, 8, 16, 16], decoder_channels=DEC,
                   channels=64, num_classes=3)
    with pytest.raises(ValueError, match='upsampling'):
        make_head(upsampling='cubic')


def test_learned_upsampling_starts_as_nearest_plus_bilinear_kernel():
    up = Upsample2x('learned-3x3-zeropad', 2)
    x = torch.randn(1, 2, 3, 4)
    near = F.interpolate(x, scale_factor=2, mode='nearest')
    k = torch.tensor([[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]]) / 16
    ref = F.conv2d(near, k.expand(2, 1, 3, 3), padding=1, groups=2)
    assert torch.allclose(up(x), ref, atol=1e-6)
    assert up.conv.weight.requires_grad  # learned
    const = up(torch.full((1, 2, 4, 4), 3.0))
    assert torch.allclose(const[..., 1:-1, 1:-1], torch.tensor(3.0))


def test_non_bottleneck_1d_is_residual():
    block = NonBottleneck1D(4)
    for m in (block.bn2, ):
        torch.nn.init.zeros_(m.weight)
        torch.nn.init.zeros_(m.bias)
    x = torch.randn(2, 4, 5, 5)
    # zero last BN: the block is ReLU(identity)
    assert torch.allclose(block(x), F.relu(x))


def test_multi_scale_loss_matches_independent_computation():
    torch.manual_seed(0)
    head = make_head()
    x = ESANetContextNeck(IN, SKIPS, context_channels=16)(feats(size=64))
    labels = [torch.randint(0, 5, (64, 64)) for _ in range(2)]
    labels[0][:10] = 255
    losses = head.loss(x, samples_with_labels(labels), None)
    assert set(losses) == {'loss_ce', 'loss_ce_down8', 'loss_ce_down16',
                           'loss_ce_down32', 'acc_seg'}
    main, sides = head.forward_with_sides(x)
    lab = torch.stack(labels)
    assert losses['loss_ce'].item() == pytest.approx(
        F.cross_entropy(main, lab, ignore_index=255).item(), rel=1e-5)
    for side, rate in zip(sides, (32, 16, 8)):
        # nearest downsampling = the top-left pixel of each r x r block
        target = lab[:, ::rate, ::rate]
        expected = F.cross_entropy(side, target, ignore_index=255)
        assert losses[f'loss_ce_down{rate}'].item() == pytest.approx(
            expected.item(), rel=1e-5)


def test_side_weights_scale_and_can_be_switched_off():
    torch.manual_seed(0)
    x = ESANetContextNeck(IN, SKIPS, context_channels=16)(feats(size=32))
    samples = samples_with_labels([torch.randint(0, 5, (32, 32))] * 2)
    torch.manual_seed(1)
    a = make_head()
    torch.manual_seed(1)
    b = make_head(side_loss_weights=(2.0, 0.0, 1.0))
    la, lb = a.loss(x, samples, None), b.loss(x, samples, None)
    assert lb['loss_ce_down32'].item() == pytest.approx(
        2 * la['loss_ce_down32'].item(), rel=1e-5)
    assert lb['loss_ce_down16'].item() == 0
    none = make_head(side_loss_weights=())
    assert set(none.loss(x, samples, None)) == {'loss_ce', 'acc_seg'}
    with pytest.raises(ValueError, match='side_loss_weights'):
        make_head(side_loss_weights=(1.0, 1.0))


def test_side_losses_send_gradients_to_the_context():
    neck = ESANetContextNeck(IN, SKIPS, context_channels=16)
    head = make_head()
    x = neck(feats(size=32))
    samples = samples_with_labels([torch.randint(0, 5, (32, 32))] * 2)
    losses = head.loss(x, samples, None)
    losses['loss_ce_down32'].backward()
    # the 1/32 side output sees only the context module and module 1
    assert neck.context.bottleneck.conv.weight.grad.abs().sum() > 0
    assert head.decoder[0].side_output.weight.grad.abs().sum() > 0
    assert head.decoder[1].conv.conv.weight.grad is None
    assert neck.skips[0].conv.weight.grad is None


def test_in_a_segmentor_every_combination_equals_single_predictions():
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(dict(
            type='MultiModalEncoderDecoder',
            backbone=dict(type='MultiBranchResNet',
                          modalities=dict(rgb=3, depth=1), depth=18,
                          base_channels=8),
            neck=dict(type='ESANetContextNeck', in_channels=IN,
                      skip_channels=SKIPS, context_channels=16),
            decode_head=dict(type='ESANetHead',
                             in_channels=list(SKIPS) + [16],
                             decoder_channels=DEC, num_blocks=1,
                             num_classes=5),
            test_cfg=dict(mode='whole'))).eval()
    inputs = torch.rand(2, 4, 64, 64)
    samples = [SegDataSample(metainfo=dict(img_shape=(64, 64),
                                           ori_shape=(64, 64)))
               for _ in range(2)]
    with torch.no_grad():
        out = model.predict_combinations(inputs, samples, 'all')
        depth = model.predict(inputs, [s.clone() for s in out['depth']])
    assert out['rgb'][0].seg_logits.data.shape == (5, 64, 64)
    torch.testing.assert_close(out['depth'][1].seg_logits.data,
                               depth[1].seg_logits.data)


def test_plain_forward_computes_the_side_outputs_for_recorders():
    """A frozen teacher runs in tensor mode: its side outputs are computed
    there too (and recordable at decoder.<i>.side_output), equal to those
    of forward_with_sides; forward_supervised gives every supervised scale
    with the head's weights; without deep supervision none run."""
    from mm_incomplete.models.distillers import FeatureRecorder
    torch.manual_seed(0)
    x = ESANetContextNeck(IN, SKIPS, context_channels=16)(feats(size=32))
    head = make_head(side_loss_weights=(2.0, 0.0, 1.0)).eval()
    rec = FeatureRecorder(head, {f's{i}': f'decoder.{i}.side_output'
                                 for i in range(3)})
    with rec, torch.no_grad():
        out = head(x)
    main, sides = head.forward_with_sides(x)
    assert torch.equal(out, main)
    for i, side in enumerate(sides):
        assert torch.equal(rec.get(f's{i}'), side)
    scales, weights = head.forward_supervised(x)
    assert weights == (1.0, 2.0, 0.0, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(scales, [main, *sides]))
    none = make_head(side_loss_weights=()).eval()
    rec = FeatureRecorder(none, dict(s0='decoder.0.side_output'))
    with rec, torch.no_grad():
        none(x)
    assert rec.outputs == {}
    scales, weights = none.forward_supervised(x)
    assert len(scales) == 1 and weights == (1.0, )
