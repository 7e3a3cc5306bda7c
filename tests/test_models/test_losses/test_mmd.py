"""Multi-kernel MMD and JMMD against an independent float64 computation."""
import numpy as np
import pytest
import torch

from mm_incomplete.models.losses.mmd import (JointMMDLoss, MultiKernelMMDLoss,
                                             gaussian_kernel_matrix,
                                             image_samples, joint_mmd,
                                             multi_kernel_mmd,
                                             paired_pixel_samples)


def ref_kernel(x, y, factors, fixed=None):
    """Kernel sum by explicit loops in float64 (numpy)."""
    z = np.concatenate([np.asarray(x, np.float64), np.asarray(y, np.float64)])
    n = len(z)
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            d[i, j] = np.sum((z[i] - z[j])**2)
    beta = fixed if fixed is not None else \
        sum(d[i, j] for i in range(n) for j in range(n) if i != j) / \
        (n * (n - 1))
    return sum(np.exp(-d / (s * beta)) for s in factors)


def ref_mmd(k, ns):
    """Biased MMD^2 by the four block means."""
    return (k[:ns, :ns].mean() + k[ns:, ns:].mean() - k[:ns, ns:].mean() -
            k[ns:, :ns].mean())


BANDWIDTH_CASES = [
    dict(factors=(0.25, 0.5, 1.0, 2.0, 4.0), fixed=None),  # the authors'
    dict(factors=(1.0, ), fixed=None),
    dict(factors=(0.5, 2.0), fixed=None),
    dict(factors=(1.0, ), fixed=1.68),  # JAN's softmax layer
    dict(factors=(0.25, 1.0, 4.0), fixed=3.0),
]


@pytest.mark.parametrize('case', BANDWIDTH_CASES)
@pytest.mark.parametrize('sizes', [(7, 7), (5, 9)])
def test_multi_kernel_mmd_matches_float64_loops(case, sizes):
    g = torch.Generator().manual_seed(sum(sizes) + len(case['factors']))
    x = torch.randn(sizes[0], 6, generator=g, dtype=torch.float64)
    y = torch.randn(sizes[1], 6, generator=g, dtype=torch.float64) * 1.5 + .3
    ours = multi_kernel_mmd(x, y, case['factors'], case['fixed'])
    ref = ref_mmd(ref_kernel(x.numpy(), y.numpy(), case['factors'],
                             case['fixed']), sizes[0])
    assert ours.dtype == torch.float64
    assert float(ours) == pytest.approx(ref, rel=1e-10, abs=1e-12)
    assert ref > 0
    # float32 inputs: same value at float32 precision
    ours32 = multi_kernel_mmd(x.float(), y.float(), case['factors'],
                              case['fixed'])
    assert float(ours32) == pytest.approx(ref, rel=1e-4, abs=1e-6)


def test_default_bandwidths_are_the_authors():
    x, y = torch.randn(6, 3).double(), torch.randn(6, 3).double()
    k = gaussian_kernel_matrix(x, y)
    ref = ref_kernel(x.numpy(), y.numpy(), (0.25, 0.5, 1, 2, 4))
    np.testing.assert_allclose(k.numpy(), ref, rtol=1e-12)
    assert torch.allclose(k.diagonal(), torch.full((12, ), 5.0,
                                                   dtype=torch.float64))


def test_bandwidth_carries_no_gradient():
    """d MMD / d x with beta a constant equals autograd's gradient."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64,
                    requires_grad=True)
    y = torch.randn(5, 4, generator=g, dtype=torch.float64)
    multi_kernel_mmd(x, y).backward()
    z = torch.cat([x.detach(), y])
    d = torch.cdist(z, z)**2
    beta = float(d.sum() / (10 * 9))
    xc = x.detach().clone().requires_grad_(True)
    zc = torch.cat([xc, y])
    dc = ((zc[:, None] - zc[None]) ** 2).sum(-1)
    k = sum(torch.exp(-dc / (s * beta)) for s in (0.25, 0.5, 1, 2, 4))
    (k[:5, :5].mean() + k[5:, 5:].mean() - 2 * k[:5, 5:].mean()).backward()
    assert torch.allclose(x.grad, xc.grad, rtol=1e-10, atol=1e-12)


def test_identical_samples_give_zero_not_nan():
    x = torch.ones(4, 3)
    assert float(multi_kernel_mmd(x, x.clone())) == 0.0
    z = torch.randn(4, 3)
    assert float(multi_kernel_mmd(z, z)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize('fixed', [(None, 1.68), (None, None, 1.68),
                                   (2.0, None)])
def test_joint_mmd_is_the_product_of_layer_kernels(fixed):
    g = torch.Generator().manual_seed(len(fixed))
    n = 6
    dims = [5, 3, 4][:len(fixed)]
    xs = [torch.randn(n, d, generator=g, dtype=torch.float64) for d in dims]
    ys = [torch.randn(n, d, generator=g, dtype=torch.float64) + .5
          for d in dims]
    factors = [(0.25, 0.5, 1, 2, 4) if f is None else (1.0, ) for f in fixed]
    ours = joint_mmd(xs, ys, factors, list(fixed))
    k = np.ones((2 * n, 2 * n))
    for x, y, s, f in zip(xs, ys, factors, fixed):
        k = k * ref_kernel(x.numpy(), y.numpy(), s, f)
    assert float(ours) == pytest.approx(ref_mmd(k, n), rel=1e-10, abs=1e-12)
    # one layer: JMMD is the multi-kernel MMD
    one = joint_mmd(xs[:1], ys[:1], factors[:1], list(fixed[:1]))
    assert float(one) == pytest.approx(
        float(multi_kernel_mmd(xs[0], ys[0], factors[0], fixed[0])),
        rel=1e-12)


def test_joint_mmd_rejects_unpaired_layers():
    with pytest.raises(ValueError, match='same number of rows'):
        joint_mmd([torch.randn(4, 2), torch.randn(5, 2)],
                  [torch.randn(4, 2), torch.randn(5, 2)],
                  [(1.0, ), (1.0, )], [None, None])
    with pytest.raises(ValueError, match='one entry per layer'):
        joint_mmd([torch.randn(4, 2)], [], [(1.0, )], [None])


def test_paired_pixel_samples_share_positions_across_maps():
    # a coarse map and its 2x nearest upsampling: after pooling to the
    # common (coarse) grid both give the same rows at the same positions
    coarse = torch.randn(2, 3, 5, 6)
    fine = coarse.repeat_interleave(2, 2).repeat_interleave(2, 3)
    other = torch.randn(2, 4, 5, 6)
    rows = paired_pixel_samples([fine, coarse, other], pool_size=(30, 40),
                                max_samples=17,
                                generator=torch.Generator().manual_seed(0))
    assert [tuple(r.shape) for r in rows] == [(17, 3), (17, 3), (17, 4)]
    assert torch.allclose(rows[0], rows[1])
    # the rows are pixels of (b, y, x): find them back in the maps
    flat = coarse.permute(0, 2, 3, 1).reshape(-1, 3)
    idx = [int(((flat - r).abs().sum(1) < 1e-6).nonzero()[0]) for r in rows[1]]
    other_flat = other.permute(0, 2, 3, 1).reshape(-1, 4)
    assert torch.equal(rows[2], other_flat[idx])
    assert len(set(idx)) == 17


def test_paired_pixel_samples_pool_to_at_most_the_bound():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    rows = paired_pixel_samples([x], pool_size=(4, 2), max_samples=None)
    ref = torch.nn.functional.adaptive_avg_pool2d(x, (4, 2))
    assert torch.equal(rows[0], ref.permute(0, 2, 3, 1).reshape(-1, 1))
    rows = paired_pixel_samples([x], pool_size=(30, 40), max_samples=None)
    assert rows[0].shape == (128, 1)  # smaller than the bound: unpooled


def test_image_samples_are_one_row_per_image():
    x = torch.randn(3, 4, 2, 2)
    assert torch.allclose(image_samples([x])[0], x.mean((2, 3)))
    with pytest.raises(ValueError, match='image samples'):
        image_samples([torch.randn(3)])


def test_joint_mmd_loss_module_matches_the_function():
    g = torch.Generator().manual_seed(5)
    fs = [torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 6, 4, 4,
                                                            generator=g)]
    ft = [torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 6, 4, 4,
                                                            generator=g)]
    zs, zt = torch.randn(2, 3, 16, 16, generator=g), torch.randn(
        2, 3, 16, 16, generator=g)
    loss = JointMMDLoss(max_samples=20, loss_weight=2.0)
    torch.manual_seed(0)
    ours = loss(fs, ft, zs, zt)
    torch.manual_seed(0)
    maps = fs + [zs.softmax(1)] + ft + [zt.softmax(1)]
    rows = paired_pixel_samples(maps, (30, 40), 20)
    ref = joint_mmd(rows[:3], rows[3:], [(0.25, 0.5, 1, 2, 4)] * 2 + [(1, )],
                    [None, None, 1.68])
    assert float(ours) == pytest.approx(2 * float(ref), rel=1e-6)
    assert rows[0].shape == (20, 4)  # common grid 4 x 4 of 2 images = 32
    with pytest.raises(ValueError, match='logits_s and logits_t'):
        loss(fs, ft)
    with pytest.raises(ValueError, match='differ in batch or channels'):
        loss(fs, ft[::-1], zs, zt)


def test_mmd_losses_reach_the_student_only():
    fs = torch.randn(2, 4, 6, 6, requires_grad=True)
    ft = torch.randn(2, 4, 6, 6, requires_grad=True)
    MultiKernelMMDLoss(max_samples=30)(fs, ft).backward()
    assert fs.grad is not None and fs.grad.abs().sum() > 0
    assert ft.grad is None
    cls = MultiKernelMMDLoss(samples='image')
    x, y = torch.randn(4, 8), torch.randn(4, 8)
    assert float(cls(x, y)) == pytest.approx(float(multi_kernel_mmd(x, y)))
    with pytest.raises(ValueError, match=r"'pixel' \(segmentation\) or 'image'"):
        MultiKernelMMDLoss(samples='row')
