"""A ``CheckpointHook`` that never leaves a run without a checkpoint.

Shorthand: none.

mmengine's hook deletes the oldest checkpoint *before* writing the new one, so
a kill (or a full disk) during the write leaves ``max_keep_ckpts - 1``
complete checkpoints, none with the CPU schedules' ``max_keep_ckpts=1``, and
``last_checkpoint`` names a file that is not there. This hook writes the new
checkpoint first (``MultiModalRunner.save_checkpoint`` writes a temporary file
and renames it into place), then points ``last_checkpoint`` at it (also by
rename), and only then deletes the checkpoints beyond ``max_keep_ckpts``,
which is at least 2 (a newer checkpoint can still turn out unusable).
"""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

MIN_KEEP = 2


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Example:
        >>> import tempfile, os.path as osp
        >>> path = osp.join(tempfile.mkdtemp(), 'last_checkpoint')
        >>> write_text_atomically(path, 'iter_4.pth'); open(path).read()
        'iter_4.pth'
    """
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that saves before it deletes and keeps at least 2.

    Takes the arguments of mmengine's ``CheckpointHook``; a positive
    ``max_keep_ckpts`` below 2 is raised to 2. ``MultiModalRunner`` uses it in
    place of every ``CheckpointHook`` of a config.

    Example:
        >>> hook = AtomicCheckpointHook(interval=2, by_epoch=False,
        ...                             max_keep_ckpts=1)
        >>> hook.max_keep_ckpts
        2
    """

    def __init__(self, *args, max_keep_ckpts: int = -1, **kwargs):
        if 0 < max_keep_ckpts < MIN_KEEP:
            print_log(f'checkpoint hook: max_keep_ckpts={max_keep_ckpts} '
                      f'raised to {MIN_KEEP}, so that a checkpoint is left '
                      'if the newest one turns out unusable', 'current')
            max_keep_ckpts = MIN_KEEP
        super().__init__(*args, max_keep_ckpts=max_keep_ckpts, **kwargs)

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            # (mmengine's deque has maxlen=max_keep_ckpts: pop explicitly)
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        write_text_atomically(osp.join(runner.work_dir, 'last_checkpoint'),
                              self.last_ckpt)
        for old in set(outdated) - {step}:  # never the file just written
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed checkpoints
                self.file_backend.rmtree(path)
