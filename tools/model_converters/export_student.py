"""Export the student of a distiller checkpoint as a plain model checkpoint.

A distiller (``SegDistiller`` / ``ClsDistiller``) saves its student under
``student.*`` and its training-only parts (the regularization heads,
``aux_heads.*``) next to it; the teacher is never saved. This tool keeps the
student alone, so the result loads strictly into the student's own config
(e.g. ``configs/baselines/multi_branch_moddrop_synthetic_seg_cpu.py`` for
``configs/mmanet/synthetic_seg_cpu.py``)::

    python tools/model_converters/export_student.py \\
        work_dirs/mmanet/synthetic_seg_cpu/iter_600.pth student.pth \\
        --config configs/mmanet/synthetic_seg_cpu.py

With ``--config`` (the distiller's config) the student's config is written
next to the output (``student.py``) and the export is checked by loading it
strictly into a model built from that config.
"""
import argparse
import os
import os.path as osp
import sys

import torch

PREFIX = 'student.'
DROPPED = ('message_hub', 'optimizer', 'param_schedulers')


def export_student(checkpoint: dict, source: str = '') -> dict:
    """The student-only checkpoint of a distiller checkpoint.

    Args:
        checkpoint (dict): a loaded distiller checkpoint (``state_dict``).
        source (str): the file it came from, for messages and ``meta``.

    Returns:
        dict: ``{'state_dict': student weights (prefix stripped), 'meta':
        the original meta plus ``exported_from``}``.
    """
    state = checkpoint.get('state_dict') if isinstance(checkpoint, dict) \
        else None
    if not isinstance(state, dict):
        raise ValueError(f'{source or "checkpoint"}: no `state_dict` found; '
                         'expected an mmengine checkpoint of a distiller')
    student = {k[len(PREFIX):]: v for k, v in state.items()
               if k.startswith(PREFIX)}
    if not student:
        raise ValueError(
            f'{source or "checkpoint"} holds no `{PREFIX}*` weights: it is '
            f'not a distiller checkpoint (keys start with '
            f'{sorted({k.split(".")[0] for k in state})})')
    meta = dict(checkpoint.get('meta') or {})
    meta['exported_from'] = source
    return {'state_dict': student, 'meta': meta}


def student_config(distiller_cfg):
    """A plain config whose model is the distiller's student."""
    from mmengine.config import Config
    cfg = Config(distiller_cfg.to_dict() if hasattr(distiller_cfg, 'to_dict')
                 else dict(distiller_cfg))
    model = cfg.get('model', {})
    if 'student' not in model:
        raise KeyError('`model.student` not found: --config must be the '
                       "distiller's config")
    cfg.model = model['student']
    for key in ('custom_hooks', 'student', 'teacher'):
        cfg.pop(key, None)
    return cfg


def check_loads(cfg, state: dict) -> None:
    """Build the student from ``cfg`` and load ``state`` strictly."""
    from mmengine.registry import init_default_scope
    import mm_incomplete  # noqa: F401  registers the modules
    scope = cfg.get('default_scope', 'mmseg')
    init_default_scope(scope)
    if scope == 'mmpretrain':
        from mmpretrain.registry import MODELS
    else:
        from mmseg.registry import MODELS
    model = MODELS.build(cfg.model)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError('the exported student does not match the student '
                           f'config: missing {missing}, unexpected '
                           f'{unexpected}')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export the student of a distiller checkpoint')
    parser.add_argument('checkpoint', help='distiller checkpoint (.pth)')
    parser.add_argument('out', help='output checkpoint (.pth)')
    parser.add_argument(
        '--config', help="the distiller's config: also write the student's "
        'config next to OUT and check that the export loads into it')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    from mm_incomplete.utils import load_local_checkpoint
    checkpoint = load_local_checkpoint(args.checkpoint, map_location='cpu')
    exported = export_student(checkpoint, args.checkpoint)
    for key in DROPPED:
        exported['meta'].pop(key, None)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if args.config:
        from mm_incomplete.utils.launch import load_config
        cfg = student_config(load_config(args.config))
        check_loads(cfg, exported['state_dict'])
        cfg_out = osp.splitext(args.out)[0] + '.py'
        from mm_incomplete.utils import freeze_modality_order
        freeze_modality_order(cfg._cfg_dict)  # Config.dump sorts dict keys
        cfg.dump(cfg_out)
        print(f'student config: {cfg_out}')
    torch.save(exported, args.out)
    print(f'student weights ({len(exported["state_dict"])} tensors): '
          f'{args.out}')
    return args.out


if __name__ == '__main__':
    main()
