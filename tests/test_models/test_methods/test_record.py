"""ForwardRecord: validation and field access with clear errors."""
import pytest
import torch

from mm_incomplete.modality import ModalityLayout
from mm_incomplete.models.methods import ForwardRecord

LAYOUT = ModalityLayout(dict(rgb=3, depth=1))


def _record(**kw):
    mask = torch.tensor([[True, False], [True, True]])
    args = dict(task='seg', layout=LAYOUT, mask=mask, host_mask=mask,
                inputs=torch.zeros(2, 4, 8, 8))
    args.update(kw)
    return ForwardRecord(**args)


def test_fields_and_present_modalities():
    rec = _record(neck_feats=[torch.ones(2, 3)], extras=dict(a=1))
    assert rec.batch_size == 2
    assert rec.present_modalities() == ['rgb', 'depth']
    assert rec.get('extras.a') == 1
    assert rec.get('neck_feats')[0].shape == (2, 3)
    only_rgb = torch.tensor([[True, False], [True, False]])
    assert _record(mask=only_rgb, host_mask=only_rgb).present_modalities() \
        == ['rgb']


def test_errors_name_the_field():
    with pytest.raises(ValueError, match="task must be one of"):
        _record(task='det')
    with pytest.raises(ValueError, match=r'host_mask must be \(B=2, M=2\)'):
        _record(host_mask=torch.ones(2, 3, dtype=torch.bool))
    rec = _record()
    with pytest.raises(ValueError, match="did not record 'modal_logits'"):
        rec.get('modal_logits')
    with pytest.raises(KeyError, match=r"no extras\['embedding_stats'\]"):
        rec.get('extras.embedding_stats')
    with pytest.raises(KeyError, match="no field 'feats'"):
        rec.get('feats')
