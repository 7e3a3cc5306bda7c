"""Which rows a branch runs on, independently of the branch."""
import pytest
import torch

from mm_incomplete.models.backbones import BranchRows, plan_branch_rows


def test_plan_per_column():
    mask = torch.tensor([[True, False, True, False],
                         [True, False, False, True],
                         [True, False, False, True]])
    kinds = [r.kind for r in plan_branch_rows(mask, training=False)]
    assert kinds == ['all', 'skip', 'rows', 'rows']
    # one present sample in training: the BatchNorm exception
    kinds = [r.kind for r in plan_branch_rows(mask, training=True)]
    assert kinds == ['all', 'skip', 'zeroed', 'rows']
    assert not plan_branch_rows(mask, True)[1].runs


def test_take_and_place_by_hand():
    x = torch.arange(3 * 2, dtype=torch.float).view(3, 2)
    present = torch.tensor([False, True, True])
    rows = BranchRows('rows', present)
    assert rows.take(x).tolist() == [[2., 3.], [4., 5.]]
    assert rows.place(rows.take(x) * 10, 3).tolist() == \
        [[0., 0.], [20., 30.], [40., 50.]]
    zeroed = BranchRows('zeroed', present)
    assert zeroed.take(x).tolist() == [[0., 0.], [2., 3.], [4., 5.]]
    assert zeroed.place(x + 1, 3).tolist() == [[0., 0.], [3., 4.], [5., 6.]]
    assert BranchRows('all', present).take(x) is x
    with pytest.raises(RuntimeError, match='does not run'):
        BranchRows('skip', present).take(x)
    with pytest.raises(ValueError, match='kind'):
        BranchRows('some', present)


def test_gradient_reaches_present_rows_only():
    x = torch.randn(3, 2, requires_grad=True)
    present = torch.tensor([True, False, True])
    for kind in ('rows', 'zeroed'):
        rows = BranchRows(kind, present)
        out = rows.place(rows.take(x) * 2, 3)
        x.grad = None
        out.sum().backward()
        assert x.grad[:, 0].tolist() == [2., 0., 2.]
