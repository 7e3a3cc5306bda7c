"""``acc_seg`` by argmax: mmseg's values, no host reads, every head.

mmseg's ``accuracy`` (topk + boolean indexing) is the reference; the
argmax form must give bit-identical values on random logits with ignored
pixels (some images wholly ignored), without ``ignore_index``, in bf16, and
for an empty batch.
"""
import sys
from pathlib import Path

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.models.decode_heads import decode_head
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mm_incomplete  # noqa: F401
from mm_incomplete.models.losses.seg_accuracy import (mmseg_accuracy,
                                                      pixel_accuracy)

sys.path.insert(0, str(Path(__file__).parents[1]))
from _sync_guard import HostSyncGuard  # noqa: E402


def _batch(seed, classes, ignored=0.3, shape=(3, 7, 9)):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(shape[0], classes, *shape[1:], generator=g)
    target = torch.randint(classes, shape, generator=g)
    target[torch.rand(shape, generator=g) < ignored] = 255
    return pred, target


def test_decode_heads_read_the_argmax_accuracy():
    assert decode_head.accuracy is pixel_accuracy


@pytest.mark.parametrize('seed', range(20))
def test_equals_mmseg_top1(seed):
    classes = 2 + seed
    pred, target = _batch(seed, classes)
    if seed % 5 == 0:
        target[0] = 255  # an image with every pixel ignored
    if seed % 10 == 0:
        target[:] = 255  # a batch with every pixel ignored: 100 %, as mmseg
    got = pixel_accuracy(pred, target, ignore_index=255)
    want = mmseg_accuracy(pred, target, ignore_index=255)
    assert got.shape == want.shape == (1, )
    assert torch.equal(got, want), (got, want)
    full = target.clamp(max=classes - 1)
    assert torch.equal(pixel_accuracy(pred, full), mmseg_accuracy(pred, full))
    half = pred.bfloat16()
    assert torch.equal(pixel_accuracy(half, target, ignore_index=255),
                       mmseg_accuracy(half, target, ignore_index=255))


def test_hand_value_and_empty_batch():
    # pixels: argmax 0, 1, 1, 0; labels 0, 0, 1, ignored -> 2 of 3
    pred = torch.stack([torch.tensor([[3., 0.], [0., 1.]]),
                        torch.tensor([[1., 2.], [5., 0.]])])[None]
    target = torch.tensor([[[0, 0], [1, 255]]])
    got = pixel_accuracy(pred, target, ignore_index=255)
    torch.testing.assert_close(got, torch.tensor([200 / 3]))
    empty = pixel_accuracy(torch.zeros(0, 3, 2, 2),
                           torch.zeros(0, 2, 2, dtype=torch.long))
    assert torch.equal(empty, mmseg_accuracy(torch.zeros(0, 3, 2, 2),
                                             torch.zeros(0, 2, 2).long()))


def test_topk_and_thresh_are_mmseg_s():
    pred, target = _batch(3, 6)
    got = pixel_accuracy(pred, target, topk=(1, 2), ignore_index=255)
    want = mmseg_accuracy(pred, target, topk=(1, 2), ignore_index=255)
    assert isinstance(got, list) and len(got) == 2
    for a, b in zip(got, want):
        assert torch.equal(a, b)
    # mmseg's threshold works on (N, K) scores only
    flat, labels = pred.permute(0, 2, 3, 1).flatten(0, 2), target.flatten()
    assert torch.equal(
        pixel_accuracy(flat, labels, thresh=0.5, ignore_index=255),
        mmseg_accuracy(flat, labels, thresh=0.5, ignore_index=255))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r'\(2, 3, 4, 4\).*\(2, 5, 5\)'):
        pixel_accuracy(torch.zeros(2, 3, 4, 4),
                       torch.zeros(2, 5, 5, dtype=torch.long))


def test_no_host_read_where_mmseg_reads_twice():
    pred, target = _batch(1, 5)
    with HostSyncGuard() as guard:
        dev = torch.device('cpu')
        pred, target = pred.to(dev), target.to(dev)  # "on the device"
        pixel_accuracy(pred, target, ignore_index=255)
    assert guard.ours == [] and guard.others == []
    with HostSyncGuard() as guard:
        mmseg_accuracy(pred.to(dev), target.to(dev), ignore_index=255)
    assert len(guard.others) == 2  # the guard sees mmseg's two reads


@pytest.mark.parametrize('head', [
    dict(type='FCNHead', in_channels=8, channels=8, num_convs=1,
         num_classes=5, in_index=-1),
    dict(type='UPerHead', in_channels=[8, 8], channels=8, in_index=[0, 1],
         pool_scales=(1, 2), num_classes=5),
    dict(type='ESANetHead', in_channels=[4, 8, 16, 16],
         decoder_channels=(16, 8, 4), num_blocks=1, num_classes=5,
         side_loss_weights=()),
], ids=['fcn', 'uper', 'esanet'])
def test_heads_log_mmseg_s_value(head):
    torch.manual_seed(0)
    # mmseg's scope, whatever an earlier test left as the default scope
    with DefaultScope.overwrite_default_scope('mmseg'):
        head = MODELS.build(head).eval()  # no dropout: two equal forwards
    if head.__class__.__name__ == 'ESANetHead':
        feats = [torch.randn(2, c, 8 // 2**i, 8 // 2**i)
                 for i, c in enumerate([4, 8, 16, 16])]
    else:
        feats = [torch.randn(2, 8, 8, 8), torch.randn(2, 8, 4, 4)]
    label = torch.randint(5, (2, 1, 32, 32))
    label[:, :, :4] = 255
    samples = [SegDataSample(gt_sem_seg=PixelData(data=label[i]),
                             metainfo=dict(img_shape=(32, 32)))
               for i in range(2)]
    losses = head.loss(feats, samples, None)
    logits = torch.nn.functional.interpolate(
        head(feats), (32, 32), mode='bilinear',
        align_corners=head.align_corners)
    want = mmseg_accuracy(logits, label[:, 0], ignore_index=255)
    assert torch.equal(losses['acc_seg'], want)
