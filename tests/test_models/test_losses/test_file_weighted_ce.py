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
