"""NonFiniteLossHook reads the device once per iteration, whatever the
number of loss terms, and still names every bad term."""
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from mm_incomplete.engine.hooks import NonFiniteLossHook

sys.path.insert(0, str(Path(__file__).parents[2] / 'test_models'))
from _sync_guard import HostSyncGuard  # noqa: E402

RUNNER = SimpleNamespace(iter=4)


def _outputs(bad=()):
    dev = torch.device('cpu')  # stands for the accelerator in the guard
    out = {f'decode.loss_{i}': torch.tensor(0.1 * i).to(dev)
           for i in range(6)}
    out['decode.acc_seg'] = torch.tensor(float('nan')).to(dev)  # not a loss
    out['loss_count'] = 3.0  # a plain number among them
    for key, value in bad:
        out[key] = torch.tensor(value).to(dev)
    return out


def test_finite_losses_cost_one_read():
    with HostSyncGuard() as guard:
        NonFiniteLossHook().after_train_iter(RUNNER, 0, None, _outputs())
    reads = guard.ours
    assert len(reads) == 1 and 'non_finite_loss_hook.py' in reads[0], reads


def test_bad_terms_are_named_with_their_values():
    bad = [('decode.loss_2', float('nan')), ('aux.loss_kl', float('inf'))]
    with pytest.raises(FloatingPointError) as err:
        NonFiniteLossHook().after_train_iter(RUNNER, 0, None, _outputs(bad))
    msg = str(err.value)
    assert 'iteration 5: decode.loss_2=nan, aux.loss_kl=inf.' in msg
    assert 'acc_seg' not in msg and 'loss_1' not in msg


def test_nothing_to_check():
    hook = NonFiniteLossHook()
    hook.after_train_iter(RUNNER, 0, None, None)
    hook.after_train_iter(RUNNER, 0, None, {'acc': torch.tensor(1.0)})
