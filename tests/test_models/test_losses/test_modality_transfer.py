"""ModalityTransferLoss (transfer decoder + KD + JMMD/MMD) and the CTN
reconstruction loss."""
import pytest
import torch
from mmengine.registry import init_default_scope

from mm_incomplete.models.losses import (CrossTranslationReconstructionLoss,
                                         LogitKLDistillLoss,
                                         ModalityTransferLoss, joint_mmd)
from mm_incomplete.models.losses.mmd import paired_pixel_samples

CH = [4, 8, 16, 32]


def uper(num_classes=3):
    return dict(type='UPerHead', in_channels=CH, in_index=[0, 1, 2, 3],
                pool_scales=(1, 2), channels=8, num_classes=num_classes,
                norm_cfg=dict(type='BN', requires_grad=True),
                align_corners=False)


def feats(seed, grad=False):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(2, c, 16 // 2**i, 16 // 2**i, generator=g,
                             requires_grad=grad) for i, c in enumerate(CH))


def seg_loss(**kw):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = dict(decoder=dict(head=uper()), context='head.bottleneck',
               jmmd_stages=(1, 2),
               kd=dict(type='LogitKLDistillLoss', tau=2.0, loss_weight=0.5),
               jmmd=dict(type='JointMMDLoss', max_samples=20,
                         loss_weight=3.0))
    cfg.update(kw)
    return ModalityTransferLoss(**cfg)


def test_terms_equal_their_definitions_on_the_decoder_outputs():
    loss = seg_loss(mmd=dict(type='MultiKernelMMDLoss', max_samples=20))
    loss.eval()  # no dropout: the decoder's output is reproducible
    h, t = feats(0, grad=True), feats(1)
    ctx_t, logits_t = torch.randn(2, 8, 2, 2), torch.randn(2, 3, 16, 16)
    torch.manual_seed(7)
    out = loss(h, (t[1], t[2]), ctx_t, logits_t)
    assert set(out) == {'loss_kd', 'loss_jmmd', 'loss_mmd'}
    with torch.no_grad():
        logits_s = loss.decoder(h)
        ctx_s = loss.decoder.head.psp_forward(list(h))
    assert logits_s.shape == logits_t.shape and ctx_s.shape == ctx_t.shape
    kd = LogitKLDistillLoss(tau=2.0, loss_weight=0.5)(logits_s, logits_t)
    assert float(out['loss_kd']) == pytest.approx(float(kd), rel=1e-5)
    torch.manual_seed(7)
    maps = [h[1], h[2], ctx_s, logits_s.softmax(1), t[1], t[2], ctx_t,
            logits_t.softmax(1)]
    rows = paired_pixel_samples([m.detach() for m in maps], (30, 40), 20)
    ref = 3.0 * joint_mmd(rows[:4], rows[4:], [(0.25, 0.5, 1, 2, 4)] * 3 +
                          [(1.0, )], [None, None, None, 1.68])
    assert float(out['loss_jmmd']) == pytest.approx(float(ref), rel=1e-5)
    # gradients reach every hallucinated stage through the decoder
    (out['loss_kd'] + out['loss_jmmd']).backward()
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in h)


def test_stage_pairing_is_checked():
    loss = seg_loss()
    t = feats(1)
    with pytest.raises(ValueError, match='jmmd_stages'):
        loss(feats(0), (t[1], ), torch.randn(2, 8, 2, 2),
             torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match='at least one'):
        seg_loss(kd=None, jmmd=None)
    with pytest.raises(KeyError, match="`ModalityTransferLoss.context`: "
                       "TransferDecoder has no submodule 'head.nothing'"):
        seg_loss(context='head.nothing')


def esanet_loss(**head_kw):
    neck = dict(type='ESANetContextNeck', in_channels=CH,
                skip_channels=(4, 8, 16), context_channels=16,
                pool_scales=(1, 2))
    head = dict(type='ESANetHead', in_channels=[4, 8, 16, 16],
                decoder_channels=(16, 8, 4), num_blocks=1, num_classes=3,
                **head_kw)
    return seg_loss(decoder=dict(neck=neck, head=head),
                    context='neck.context', jmmd=None).eval()


def kl64(logits_s, logits_t, tau):
    """tau^2 mean over pixels of KL(softmax(z_t/tau) || softmax(z_s/tau)),
    in float64 from the definition."""
    zs, zt = logits_s.double() / tau, logits_t.double() / tau
    p_t = torch.exp(zt) / torch.exp(zt).sum(1, keepdim=True)
    p_s = torch.exp(zs) / torch.exp(zs).sum(1, keepdim=True)
    return tau ** 2 * (p_t * (p_t.log() - p_s.log())).sum(1).mean()


# the teacher's maps: full size, then the side outputs at 1/32, 1/16, 1/8
SCALES = [(64, 64), (2, 2), (4, 4), (8, 8)]


def teacher_scales(seed=5):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, *hw, generator=g) for hw in SCALES]


def test_esanet_decoder_context_is_its_context_module():
    """The NYUDv2 form: ESANet's context neck + head as the transfer
    decoder, its context the neck's pyramid-pooling output (1/32 of the
    input, the last neck output) and its logits at full size."""
    loss = esanet_loss()
    h = feats(0)
    with loss._context:
        logits_s = loss.decoder(h)
    assert logits_s.shape == (2, 3, 64, 64)
    assert torch.equal(loss._context.get('context'), loss.decoder.neck(h)[3])
    # the head's 1/4 map before its upsamplings is no partner for it
    wrong = teacher_scales()
    wrong[0] = torch.randn(2, 3, 16, 16)
    with pytest.raises(ValueError, match='shape'):
        loss(h, (h[1], h[2]), torch.randn(2, 16, 2, 2), wrong)


@pytest.mark.parametrize('side_weights', [(1.0, 1.0, 1.0), (2.0, 0.0, 0.5)])
def test_kd_acts_at_every_scale_the_esanet_head_supervises(side_weights):
    """L_KD = sum_s w_s KD(z_tr^s, z_t^s) over the full-size output and the
    side outputs at 1/32, 1/16, 1/8, w = (1, *side_loss_weights) (the
    head's deep-supervision weights), against a float64 computation; every
    side-output conv of the transfer decoder gets a gradient."""
    loss = esanet_loss(side_loss_weights=side_weights)
    h, logits_t = feats(0), teacher_scales()
    out = loss(h, (h[1], h[2]), torch.randn(2, 16, 2, 2), logits_t)
    with torch.no_grad():
        main, sides = loss.decoder.head.forward_with_sides(
            loss.decoder.neck(h))
    assert [tuple(z.shape[2:]) for z in [main, *sides]] == SCALES
    ref = sum(w * kl64(zs, zt, tau=2.0) for w, zs, zt in zip(
        (1.0, *side_weights), [main, *sides], logits_t))
    assert float(out['loss_kd']) == pytest.approx(0.5 * float(ref),
                                                  rel=1e-5)
    out['loss_kd'].backward()
    for module, w in zip(loss.decoder.head.decoder, side_weights):
        grad = module.side_output.weight.grad
        assert (grad.abs().sum() > 0) == (w != 0)


def test_kd_at_one_scale_without_deep_supervision():
    loss = esanet_loss(side_loss_weights=())
    h, logits_t = feats(0), teacher_scales()[0]
    out = loss(h, (h[1], h[2]), torch.randn(2, 16, 2, 2), logits_t)
    with torch.no_grad():
        logits_s = loss.decoder(h)
    ref = kl64(logits_s, logits_t, tau=2.0)
    assert float(out['loss_kd']) == pytest.approx(0.5 * float(ref),
                                                  rel=1e-5)


def test_a_different_number_of_scales_names_both_lists():
    loss = esanet_loss()
    h, ctx = feats(0), torch.randn(2, 16, 2, 2)
    both = (r'supervises 4 scales \[\(2, 3, 64, 64\), \(2, 3, 2, 2\), '
            r'\(2, 3, 4, 4\), \(2, 3, 8, 8\)\] but `logits_t` gives 1 '
            r'\[\(2, 3, 64, 64\)\]')
    with pytest.raises(ValueError, match=both):
        loss(h, (h[1], h[2]), ctx, teacher_scales()[0])
    with pytest.raises(ValueError, match='gives 3'):
        loss(h, (h[1], h[2]), ctx, teacher_scales()[:3])
    # a one-scale decoder (UPerHead) given the teacher's four
    with pytest.raises(ValueError, match=r'supervises 1 scales \[\(2, 3, '
                       r'16, 16\)\] but `logits_t` gives 2'):
        seg_loss()(h, (h[1], h[2]), torch.randn(2, 8, 2, 2),
                   (torch.randn(2, 3, 16, 16), torch.randn(2, 3, 2, 2)))


def test_reconstruction_loss_is_the_weighted_mean():
    loss = CrossTranslationReconstructionLoss(loss_weight=0.5)
    errs = (torch.tensor(1.0), torch.tensor(2.0), torch.tensor(6.0))
    assert float(loss(errs)) == pytest.approx(0.5 * 3.0)
    with pytest.raises(ValueError, match='one scalar error per CTN'):
        loss((torch.ones(2), ))
