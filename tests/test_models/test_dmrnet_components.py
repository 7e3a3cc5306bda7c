"""DMRNet's parts: probabilistic embedding, combination selector, the
auxiliary regularizer heads (shared with MMANet's regularization)."""
import pytest
import torch
from mmengine.structures import PixelData
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample

from mm_incomplete.modality import set_modality_masks
from mm_incomplete.models.heads import (CombinationRegularizerClsHead,
                                        CombinationRegularizerSegHead)
from mm_incomplete.models.necks import (ProbabilisticEmbedding,
                                        ProbabilisticEmbeddingNeck)
from mm_incomplete.models.utils import CombinationSelector

LAYOUT = dict(rgb=3, depth=1)
# rows: rgb+depth, depth, rgb, depth
MASK = torch.tensor([[1, 1], [0, 1], [1, 0], [0, 1]]).bool()


# -- probabilistic embedding --------------------------------------------------
def test_embedding_samples_only_in_training():
    torch.manual_seed(0)
    emb = ProbabilisticEmbedding(6)
    h = torch.randn(3, 6, 4, 4)
    a, b = emb(h), emb(h)
    assert not torch.allclose(a.z, a.mu)
    assert not torch.allclose(a.z, b.z)  # a fresh eps each call
    torch.testing.assert_close(a.mu, b.mu)
    emb.eval()
    c, d = emb(h), emb(h)
    assert torch.equal(c.z, c.mu) and torch.equal(c.z, d.z)


def test_embedding_of_vectors_keeps_the_vector_shape():
    emb = ProbabilisticEmbedding(6, out_channels=5)
    out = emb(torch.randn(4, 6))
    assert out.z.shape == out.mu.shape == out.logvar.shape == (4, 5)
    with pytest.raises(ValueError, match=r'\(B, 6\)'):
        emb(torch.randn(4, 7))


def test_gradients_reach_mu_and_sigma_through_the_reparameterization():
    torch.manual_seed(1)
    emb = ProbabilisticEmbedding(4)
    out = emb(torch.randn(2, 4, 3, 3))
    out.mu.retain_grad()
    out.logvar.retain_grad()
    w = torch.randn_like(out.z)
    (out.z * w).sum().backward()
    sigma = (0.5 * out.logvar.detach()).exp()
    eps = (out.z.detach() - out.mu.detach()) / sigma
    # z = mu + eps * exp(logvar / 2)
    torch.testing.assert_close(out.mu.grad, w)
    torch.testing.assert_close(out.logvar.grad, w * eps * 0.5 * sigma)
    for head in (emb.mu_head, emb.logvar_head):
        assert head[0].weight.grad.abs().sum() > 0


def test_in_eval_the_variance_head_gets_no_task_gradient():
    emb = ProbabilisticEmbedding(4).eval()
    emb(torch.randn(2, 4, 3, 3)).z.sum().backward()
    assert emb.logvar_head[0].weight.grad is None
    assert emb.mu_head[0].weight.grad.abs().sum() > 0


def test_mean_variance_is_the_per_sample_mean_of_sigma_squared():
    logvar = torch.log(torch.tensor([[1.0, 3.0], [2.0, 2.0]]))
    torch.testing.assert_close(ProbabilisticEmbedding.mean_variance(logvar),
                               torch.tensor([2.0, 2.0]))


def test_neck_embeds_only_the_chosen_levels():
    neck = ProbabilisticEmbeddingNeck([4, 8], in_index=-1).eval()
    feats = [torch.randn(2, 4, 8, 8), torch.randn(2, 8, 4, 4)]
    outs, stats = neck.forward_with_stats(feats)
    assert outs[0] is feats[0]
    assert len(stats) == 1 and torch.equal(outs[1], stats[0].mu)
    assert neck.in_index == [1]
    with pytest.raises(ValueError, match='in_index'):
        ProbabilisticEmbeddingNeck([4, 8], in_index=2)
    with pytest.raises(ValueError, match='2 levels'):
        neck([feats[0]])


# -- selector -----------------------------------------------------------
def test_selector_marks_samples_of_selected_combinations():
    sel = CombinationSelector(LAYOUT, ['depth'])
    assert sel.sample_mask(MASK).tolist() == [False, True, False, True]
    assert sel.combination_index(MASK).tolist() == [0, 2, 1, 2]
    sel.set_selected('rgb, depth')
    assert sel.sample_mask(MASK).tolist() == [False, True, True, True]
    assert sel.selected_names == ['rgb', 'depth']
    with pytest.raises(ValueError, match='unknown modality'):
        CombinationSelector(LAYOUT, ['ir'])


def test_mining_selects_the_largest_mean_score_among_candidates():
    sel = CombinationSelector(LAYOUT)
    assert sel.selected_names == [] and not sel.sample_mask(MASK).any()
    # full 9.0 (not a candidate), depth mean (0.4 + 0.6) / 2 = 0.5, rgb 0.7
    sel.accumulate(torch.tensor([9.0, 0.4, 0.7, 0.6]), MASK)
    assert sel.mean_scores() == pytest.approx(
        {'rgb+depth': 9.0, 'rgb': 0.7, 'depth': 0.5})
    assert sel.finish_mining() == ['rgb']
    assert sel.score_count.sum() == 0  # reset for a next window

    low = CombinationSelector(LAYOUT, rule='min')
    low.accumulate(torch.tensor([9.0, 0.4, 0.7, 0.6]), MASK)
    assert low.finish_mining() == ['depth']

    two = CombinationSelector(LAYOUT, candidates='all', num_selected=2)
    two.accumulate_combination('depth', 3.0, count=2)  # mean 1.5
    two.accumulate_combination('rgb', 1.0)
    two.accumulate_combination('rgb+depth', 2.0)
    assert two.finish_mining() == ['rgb+depth', 'depth']


def test_mining_errors_are_explicit():
    sel = CombinationSelector(LAYOUT)
    sel.accumulate(torch.tensor([1.0]), MASK[:1])  # only the full one seen
    with pytest.raises(RuntimeError, match='observed'):
        sel.finish_mining()
    with pytest.raises(RuntimeError, match='fixed by the config'):
        CombinationSelector(LAYOUT, ['depth']).finish_mining()
    with pytest.raises(ValueError, match='num_selected'):
        CombinationSelector(LAYOUT, num_selected=3)
    with pytest.raises(ValueError, match='rule'):
        CombinationSelector(LAYOUT, rule='largest')


def test_mined_state_survives_a_state_dict_round_trip():
    sel = CombinationSelector(LAYOUT)
    sel.accumulate(torch.tensor([1.0, 0.2, 0.5, 0.4]), MASK)
    state = sel.state_dict()
    assert set(state) == {'selected', 'score_sum', 'score_count'}
    fresh = CombinationSelector(LAYOUT)
    fresh.load_state_dict(state)  # resumed inside the window
    torch.testing.assert_close(fresh.score_sum, sel.score_sum)
    assert fresh.finish_mining() == sel.finish_mining() == ['rgb']
    again = CombinationSelector(LAYOUT)
    again.load_state_dict(fresh.state_dict())  # resumed after the window
    assert again.selected_names == ['rgb']
    assert again.sample_mask(MASK).tolist() == [False, False, True, False]


# -- regularizer heads ---------------------------------------------------
def _seg_samples(mask, size=8, classes=3):
    g = torch.Generator().manual_seed(0)
    samples = [SegDataSample(gt_sem_seg=PixelData(data=torch.randint(
        classes, (1, size, size), generator=g))) for _ in range(len(mask))]
    set_modality_masks(samples, mask)
    return samples


def _seg_head(**kw):
    head = dict(type='FCNHead', in_channels=8, channels=8, num_convs=1,
                num_classes=3, in_index=-1, concat_input=False,
                dropout_ratio=0,
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.5))
    return CombinationRegularizerSegHead(head=head, modalities=LAYOUT, **kw)


def test_seg_regularizer_touches_only_the_chosen_samples():
    torch.manual_seed(0)
    head = _seg_head(combinations=['depth'])
    feats = torch.randn(4, 8, 4, 4, requires_grad=True)
    samples = _seg_samples(MASK)
    losses = head.loss([feats], samples, None)
    losses['loss_ce'].backward()
    per_sample = feats.grad.abs().flatten(1).sum(1)
    assert per_sample[0] == 0 and per_sample[2] == 0  # rgb+depth, rgb
    assert per_sample[1] > 0 and per_sample[3] > 0  # the depth samples
    # equal to the inner head on the selected samples alone
    ref = head.head.loss([feats[[1, 3]].detach()], [samples[1], samples[3]],
                         None)
    torch.testing.assert_close(losses['loss_ce'].detach(), ref['loss_ce'])


def test_seg_regularizer_without_selected_samples_or_before_warmup():
    head = _seg_head(combinations=['depth'])
    feats = torch.randn(2, 8, 4, 4, requires_grad=True)
    mask = torch.tensor([[1, 1], [1, 0]]).bool()
    losses = head.loss([feats], _seg_samples(mask), None)
    assert set(losses) == {'loss_ce'} and losses['loss_ce'].item() == 0.0
    losses['loss_ce'].backward()  # in the graph: every parameter has a grad
    assert all(p.grad is not None for p in head.parameters())
    assert feats.grad is None

    head.loss_scale = 0.0
    assert head.loss([feats], _seg_samples(MASK[:2]),
                     None)['loss_ce'].item() == 0.0
    head.loss_scale = 0.5
    half = head.loss([feats], _seg_samples(MASK[:2]), None)['loss_ce']
    head.loss_scale = 1.0
    full = head.loss([feats], _seg_samples(MASK[:2]), None)['loss_ce']
    torch.testing.assert_close(half, 0.5 * full)


def test_mined_seg_head_selects_nothing_until_mined_and_saves_selection():
    head = _seg_head()
    losses = head.loss([torch.randn(4, 8, 4, 4)], _seg_samples(MASK), None)
    assert losses['loss_ce'].item() == 0.0
    head.selector.accumulate(torch.tensor([0.0, 2.0, 1.0, 2.0]), MASK)
    head.selector.finish_mining()
    state = head.state_dict()
    assert state['selector.selected'].tolist() == [False, False, True]
    fresh = _seg_head()
    fresh.load_state_dict(state)
    assert fresh.selector.selected_names == ['depth']


def test_cls_regularizer_touches_only_the_chosen_samples():
    torch.manual_seed(0)
    head = CombinationRegularizerClsHead(
        head=dict(type='LinearClsHead', num_classes=3, in_channels=8,
                  loss=dict(type='CrossEntropyLoss', loss_weight=0.3)),
        modalities=LAYOUT, combinations=['rgb'])
    feats = torch.randn(4, 8, requires_grad=True)
    samples = [DataSample().set_gt_label(i % 3) for i in range(4)]
    set_modality_masks(samples, MASK)
    loss = head.loss((feats, ), samples)['loss']
    loss.backward()
    rows = feats.grad.abs().sum(1)
    assert rows[2] > 0 and rows[[0, 1, 3]].sum() == 0
    ref = torch.nn.functional.cross_entropy(
        head.head((feats[2:3].detach(), )), torch.tensor([2]))
    torch.testing.assert_close(loss.detach(), 0.3 * ref)
    with pytest.raises(TypeError, match='config dict'):
        CombinationRegularizerClsHead(head=None, modalities=LAYOUT)


def test_seg_regularizer_with_a_single_selected_sample_and_pyramid_pooling():
    torch.manual_seed(0)
    uper = dict(type='UPerHead', in_channels=[4, 8], in_index=[0, 1],
                pool_scales=(1, 2), channels=8, num_classes=3,
                dropout_ratio=0)
    head = CombinationRegularizerSegHead(head=uper, modalities=LAYOUT,
                                         combinations=['depth'])
    feats = [torch.randn(3, 4, 8, 8, requires_grad=True),
             torch.randn(3, 8, 4, 4, requires_grad=True)]
    samples = _seg_samples(MASK[:3])  # one depth-only sample (row 1)
    loss = head.loss(feats, samples, None)['loss_ce']
    loss.backward()
    assert feats[1].grad[[0, 2]].abs().sum() == 0
    assert feats[1].grad[1].abs().sum() > 0
    # the loss of that sample alone (BatchNorm statistics of the sample)
    ref = head.head.loss([f[[1, 1]].detach() for f in feats],
                         [samples[1], samples[1]], None)['loss_ce']
    torch.testing.assert_close(loss.detach(), ref)
