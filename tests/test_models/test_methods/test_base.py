"""method_losses on both task models: the record they get, the loss
assembly, its errors, and that a model without methods computes what the
pre-plug-in formulation computed."""
import pytest
import torch
from mmengine.registry import MODELS as ROOT_MODELS

from _tiny import MASK, cls_batch, cls_model, seg_batch, seg_model
from mm_incomplete.models.methods import BaseMethodLoss


@ROOT_MODELS.register_module(force=True)
class _ModalFeatureNorm(BaseMethodLoss):
    """Test method: mean squared per-modality deepest feature, logged with
    the record it saw."""

    def forward(self, record):
        self.seen = record
        feats = record.get('modal_feats')
        value = sum(f[-1].pow(2).mean() for f in feats.values())
        return dict(loss_modal_norm=self.scaled(value),
                    n_present=torch.tensor(len(feats)))


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_method_gets_the_record_and_its_loss_counts(task):
    torch.manual_seed(0)
    build, batch = (seg_model, seg_batch) if task == 'seg' else \
        (cls_model, cls_batch)
    model = build(method_losses=dict(
        norm=dict(type='_ModalFeatureNorm', loss_weight=0.5)))
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    rec = model.method_losses.norm.seen
    assert rec.task == task and rec.layout == model.layout
    assert torch.equal(rec.host_mask, MASK) and torch.equal(rec.mask, MASK)
    assert rec.inputs is inputs and rec.data_samples is samples
    # the record holds what the forward computed, nothing recomputed
    encoded = model.backbone.encode(inputs, MASK)
    for name in ('rgb', 'depth'):
        for a, b in zip(rec.modal_feats[name], encoded[name]):
            torch.testing.assert_close(a, b)
    fused = model.backbone(inputs, MASK)
    for a, b in zip(rec.fused_feats, fused):
        torch.testing.assert_close(a, b)
    expect = 0.5 * sum(f[-1].pow(2).mean() for f in encoded.values())
    torch.testing.assert_close(losses['loss_modal_norm'], expect)
    assert int(losses['n_present']) == 2
    if task == 'seg':
        assert rec.head_logits.shape == (4, 4, 2, 2)  # FCN at 1/32
        assert {'decode.loss_ce', 'decode.acc_seg'} <= set(losses)
    else:
        assert rec.head_logits.shape == (4, 4)
        assert rec.neck_feats[-1].shape == (4, 64)
    # gradients of the method loss reach both encoders
    losses['loss_modal_norm'].backward()
    for name in ('rgb', 'depth'):
        grad = model.backbone.branches[name].conv1.weight.grad
        assert grad is not None and grad.abs().sum() > 0


def test_without_methods_the_loss_is_the_plain_formulation():
    """The record-based loss equals backbone -> decode_head.loss."""
    torch.manual_seed(0)
    model = seg_model()
    inputs, samples = seg_batch()
    new = model.loss(inputs, samples)
    old = model.decode_head.loss(model.backbone(inputs, MASK), samples,
                                 model.train_cfg)
    assert set(new) == {'decode.' + k for k in old}
    for k, v in old.items():
        torch.testing.assert_close(new['decode.' + k], v, rtol=0, atol=0)
    model = cls_model()
    inputs, samples = cls_batch()
    new = model.loss(inputs, samples)
    old = model.head.loss(model.neck(model.backbone(inputs, MASK)), samples)
    assert set(new) == set(old)
    torch.testing.assert_close(new['loss'], old['loss'], rtol=0, atol=0)


def test_list_and_dict_forms_and_names():
    model = cls_model(method_losses=[dict(type='_ModalFeatureNorm')])
    assert list(model.method_losses) == ['0']
    model = cls_model(method_losses=dict(a=dict(type='_ModalFeatureNorm')))
    assert list(model.method_losses) == ['a']
    assert 'method_losses' not in ''.join(model.state_dict())


def test_errors_name_the_method():
    with pytest.raises(TypeError, match='method_losses.x must be a '
                                        'BaseMethodLoss, got GaussianKLLoss'):
        cls_model(method_losses=dict(x=dict(type='GaussianKLLoss')))
    with pytest.raises(TypeError, match='must be a list or a dict'):
        cls_model(method_losses='_ModalFeatureNorm')
    model = cls_model(method_losses=[dict(type='_ModalFeatureNorm'),
                                     dict(type='_ModalFeatureNorm')])
    inputs, samples = cls_batch()
    with pytest.raises(KeyError, match=r"method_losses.1 \(_ModalFeatureNorm"
                                       r"\) returns 'loss_modal_norm', which "
                                       r'method_losses.0'):
        model.loss(inputs, samples)


def test_early_fusion_records_no_modal_features():
    torch.manual_seed(0)
    model = seg_model(
        backbone=dict(type='EarlyFusionResNet', modalities=dict(rgb=3,
                                                                 depth=1),
                      depth=18, base_channels=8))
    inputs, samples = seg_batch()
    rec = model.forward_record(inputs, samples)
    assert rec.modal_feats is None and len(rec.fused_feats) == 4
    with pytest.raises(ValueError, match="did not record 'modal_feats'"):
        rec.get('modal_feats')
