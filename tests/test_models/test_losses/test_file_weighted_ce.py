"""FileWeightedCrossEntropyLoss: ESANet's normalisation, file errors."""
import json

import pytest
import torch
import torch.nn.functional as F

from mm_incomplete.models.losses import FileWeightedCrossEntropyLoss


def write(tmp_path, weights):
    path = tmp_path / 'w.json'
    path.write_text(json.dumps(dict(method='median_frequency',
                                    weights=weights)))
    return str(path)


def test_weighted_sum_over_weighted_valid_pixel_count(tmp_path):
    torch.manual_seed(0)
    w = [0.5, 2.0, 1.0]
    loss = FileWeightedCrossEntropyLoss(write(tmp_path, w), loss_weight=0.7)
    logits = torch.randn(2, 3, 4, 5)
    label = torch.randint(0, 3, (2, 4, 5))
    label[0, :2] = 255
    # ESANet's CrossEntropyLoss2d: sum_i w_yi CE_i / sum_i w_yi (valid i)
    valid = label != 255
    ce = -F.log_softmax(logits, 1).gather(
        1, label.clamp(max=2)[:, None])[:, 0]
    wi = torch.tensor(w)[label.clamp(max=2)]
    expected = (wi * ce)[valid].sum() / wi[valid].sum()
    got = loss(logits, label, ignore_index=255)
    assert got.item() == pytest.approx(0.7 * expected.item(), rel=1e-5)
    assert loss.avg_non_ignore


def test_missing_file_and_wrong_class_count_name_the_file(tmp_path):
    missing = FileWeightedCrossEntropyLoss(str(tmp_path / 'nope.json'))
    with pytest.raises(FileNotFoundError, match='nope.json.*class_weights.py'):
        missing(torch.randn(1, 3, 2, 2), torch.zeros(1, 2, 2).long())
    two = FileWeightedCrossEntropyLoss(write(tmp_path, [1.0, 2.0]))
    with pytest.raises(ValueError, match='2 class weights.*3 classes'):
        two(torch.randn(1, 3, 2, 2), torch.zeros(1, 2, 2).long())
    bad = FileWeightedCrossEntropyLoss(write(tmp_path, [1.0, -2.0]))
    with pytest.raises(ValueError, match='finite and >= 0'):
        bad(torch.randn(1, 2, 2, 2), torch.zeros(1, 2, 2).long())
    with pytest.raises(ValueError, match='class_weight_file'):
        FileWeightedCrossEntropyLoss('x.json', class_weight=[1.0])


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 6, 7, generator=g)
    label = torch.randint(0, 3, (2, 6, 7), generator=g)
    label[1, :3] = 255
    return logits, label


def test_reads_nothing_back_from_the_device_and_copies_weights_once(
        tmp_path):
    """The weight sum of the valid pixels stays on the device (mmseg's
    boolean index / ``.item()`` made the host wait on every call, once per
    ESANet output scale); the weights go to the device once."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from _sync_guard import HostSyncGuard
    loss = FileWeightedCrossEntropyLoss(write(tmp_path, [0.3137, 1.7, 0.9]))
    logits, label = _batch()
    want = loss(logits, label, ignore_index=255)
    with HostSyncGuard() as guard:
        dev = torch.device('cpu')  # stands for the accelerator
        got = loss(logits.to(dev), label.to(dev), ignore_index=255)
    assert guard.ours == [] and guard.others == [], guard.ours + guard.others
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    first = loss.weights_on(logits)
    loss(logits, label, ignore_index=255)
    assert loss.weights_on(logits) is first
    assert list(loss._weights_cache) == [(logits.device, torch.float32)]


def test_weights_stay_fp32_under_bf16_autocast(tmp_path):
    """Under autocast the loss is the fp32 loss of the bf16 logits: the
    class weights (here with more digits than bf16 keeps) and their sum are
    not rounded to bf16. Same inputs, fp32 maths: rtol 1e-5."""
    w = [0.3137, 1.7071, 0.9123]
    loss = FileWeightedCrossEntropyLoss(write(tmp_path, w))
    logits, label = _batch(1)
    logits = logits.bfloat16()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = loss(logits, label, ignore_index=255)
    want = loss(logits.float(), label, ignore_index=255)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # outside autocast, reduced logits get weights of their own dtype
    # (F.cross_entropy refuses fp32 weights for bf16 logits there)
    assert torch.isfinite(loss(logits, label, ignore_index=255))
    assert (logits.device, torch.bfloat16) in loss._weights_cache
