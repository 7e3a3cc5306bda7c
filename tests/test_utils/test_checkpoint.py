"""Checkpoints of our runs load back with torch's weights_only protection on."""
import os

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mm_incomplete  # noqa: F401  (installs the loader)
from mm_incomplete.utils import CHECKPOINT_SAFE_GLOBALS, load_local_checkpoint


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


def _runner(work_dir, max_iters, resume=False):
    data = [dict(inputs=torch.randn(2), labels=torch.randn(1))
            for _ in range(16)]
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=4),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=3),
            logger=dict(type='LoggerHook', interval=1)),
        resume=resume,
        randomness=dict(seed=0))


def test_default_torch_load_is_weights_only():
    # the protection itself stays on: an arbitrary class is still refused
    assert os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD') is None
    assert all(not isinstance(g, str) for g in CHECKPOINT_SAFE_GLOBALS)


def test_resume_restores_iteration_optimizer_and_weights(tmp_path):
    runner = _runner(tmp_path, 3)
    runner.train()
    ckpt = tmp_path / 'iter_3.pth'
    assert ckpt.is_file()
    saved = torch.load(ckpt)  # weights_only by default in torch >= 2.6
    assert saved['meta']['iter'] == 3

    resumed = _runner(tmp_path, 6, resume=True)
    resumed.load_or_resume()
    assert resumed.iter == 3
    for k, v in saved['state_dict'].items():
        assert torch.equal(resumed.model.state_dict()[k], v)
    momentum = resumed.optim_wrapper.optimizer.state_dict()['state']
    assert momentum and all(
        torch.equal(momentum[i]['momentum_buffer'],
                    saved['optimizer']['state'][i]['momentum_buffer'])
        for i in momentum)
    resumed.train()
    assert resumed.iter == 6


class NotAllowed:
    pass


def test_unlisted_types_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': NotAllowed()}, path)
    with pytest.raises(RuntimeError, match=str(path)) as err:
        load_local_checkpoint(str(path))
    assert 'NotAllowed' in str(err.value)


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load_local_checkpoint(str(missing))
    corrupt = tmp_path / 'corrupt.pth'
    torch.save({'w': torch.zeros(100)}, corrupt)
    corrupt.write_bytes(corrupt.read_bytes()[:50])
    with pytest.raises(RuntimeError, match='corrupt.pth'):
        load_local_checkpoint(str(corrupt))
    # and through mmengine's own entry point
    from mmengine.runner import load_checkpoint
    with pytest.raises(RuntimeError, match='corrupt.pth'):
        load_checkpoint(torch.nn.Linear(1, 1), str(corrupt))


def test_history_buffer_round_trip_keeps_statistics(tmp_path):
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer()
    for v in (1.0, 2.0, 6.0):
        buf.update(v)
    path = tmp_path / 'buf.pth'
    torch.save({'buf': buf}, path)
    loaded = torch.load(path)['buf']  # weights_only
    assert loaded.mean() == 3.0 and loaded.max() == 6.0
    assert loaded.statistics('current') == 6.0
    assert 'statistics_methods' not in buf.__dict__


class _Evil:
    """Unpickling it runs code: writes a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture
def http_dir(tmp_path):
    """A local HTTP server serving tmp_path/www (no network needed)."""
    import functools
    import http.server
    import threading
    www = tmp_path / 'www'
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(www))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()


def test_remote_checkpoint_cannot_run_code(http_dir, tmp_path, monkeypatch):
    from mmengine.runner.checkpoint import _load_checkpoint
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    www, url = http_dir
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'x': _Evil(marker)},
               www / 'evil.pth')
    with pytest.raises(RuntimeError, match=f'{url}/evil.pth') as err:
        _load_checkpoint(f'{url}/evil.pth')
    assert 'system' in str(err.value)  # refused by the weights_only loader
    assert not marker.exists(), 'the pickled os.system ran'
    # a plain remote checkpoint still loads
    torch.save({'state_dict': {'w': torch.ones(2)}}, www / 'good.pth')
    good = _load_checkpoint(f'{url}/good.pth')
    assert torch.equal(good['state_dict']['w'], torch.ones(2))


def test_every_mmengine_scheme_is_guarded(monkeypatch):
    """open-mmlab://, mmcls://, torchvision://, pavi://, s3:// ... and any
    scheme registered later all load with weights_only forced on."""
    from mmengine.runner.checkpoint import CheckpointLoader
    paths = ['http://x/a.pth', 'https://x/a.pth', 'open-mmlab://resnet50',
             'openmmlab://resnet50', 'mmcls://resnet50',
             'torchvision://resnet50', 'modelzoo://resnet50',
             'pavi://a/b.pth', 's3://bucket/a.pth', 'petrel://b/a.pth',
             '/local/a.pth']
    for path in paths:
        loader = CheckpointLoader._get_checkpoint_loader(path)
        assert getattr(loader, '_mm_incomplete_weights_only', False), path
    monkeypatch.setattr(CheckpointLoader, '_schemes',
                        dict(CheckpointLoader._schemes))
    CheckpointLoader.register_scheme('toy://', lambda f, m=None: {})
    loader = CheckpointLoader._get_checkpoint_loader('toy://x')
    assert getattr(loader, '_mm_incomplete_weights_only', False)


def test_late_registered_scheme_refuses_code(tmp_path, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Evil(marker)}, path)

    def naive_loader(filename, map_location=None):
        return torch.load(filename[len('toy://'):], weights_only=False)

    monkeypatch.setattr(CheckpointLoader, '_schemes',
                        dict(CheckpointLoader._schemes))
    CheckpointLoader.register_scheme('toy://', naive_loader)
    with pytest.raises(Exception, match='system'):
        _load_checkpoint(f'toy://{path}')
    assert not marker.exists()
    assert torch.load.__name__ == 'load'  # the guard put torch.load back
