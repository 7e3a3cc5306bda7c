"""What a config means, as a JSON-able dict, to compare configs across edits.

Run as a script to write the snapshot of every config under a configs folder
(the snapshot in this folder was written from the configs before the
dataset bases were rewritten to declare each pipeline once):

    PYTHONPATH=<tree> python tests/test_configs/_config_fingerprint.py \\
        <tree>/mm_incomplete/configs tests/test_configs/config_snapshot.json

The fingerprint is the resolved config with the forms that may change
without changing the meaning normalised: layouts are written as
``name:channels:decoding`` (decoding ``depth`` or ``8bit``, from the
loader's ``depth_modalities`` or the layout's kinds), a loading step without
``modalities`` gets its dataset's (the datasets fill it in), tuples become
lists. For the CPU-size configs (but distillers, which load a trained
teacher) it also builds the model with a fixed seed and records a
digest of its state dict (names, shapes and sums, in order).
"""
import glob
import hashlib
import json
import os.path as osp
import sys

DEFAULT_DEPTH = ('depth', )


def _layout_items(spec):
    """(name, channels, kind or None) of any layout form, without importing
    the package (so that old trees are fingerprinted the same way)."""
    if isinstance(spec, str):
        out = []
        for item in filter(None, (s.strip() for s in spec.split(','))):
            parts = [p.strip() for p in item.split(':')]
            out.append((parts[0], int(parts[1]),
                        parts[2] if len(parts) > 2 else None))
        return out
    if isinstance(spec, dict):
        return [(n, v['channels'], v.get('kind')) if isinstance(v, dict)
                else (n, v, None) for n, v in spec.items()]
    return [(i[0], i[1], i[2] if len(i) > 2 else None) for i in spec]


def _layout(spec, depth_modalities=None):
    items = _layout_items(spec)
    out = []
    for name, ch, kind in items:
        if depth_modalities is not None:
            is_depth = name in depth_modalities
        elif kind is not None:
            is_depth = kind == 'depth'
        else:
            is_depth = name in DEFAULT_DEPTH
        out.append(f'{name}:{ch}:{"depth" if is_depth else "8bit"}')
    return ','.join(out)


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, type):
        return obj.__name__
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def _normalise(obj, dataset_layout=None):
    """Normalise layouts and loading steps in a plain config tree."""
    if isinstance(obj, list):
        return [_normalise(v, dataset_layout) for v in obj]
    if not isinstance(obj, dict):
        return obj
    obj = dict(obj)
    if 'pipeline' in obj and 'modalities' in obj:
        dataset_layout = obj['modalities']
    if obj.get('type') == 'LoadMultiModalImages':
        spec = obj.get('modalities', dataset_layout)
        obj['modalities'] = _layout(spec, obj.pop('depth_modalities', None))
    elif 'modalities' in obj and not isinstance(obj['modalities'], str) \
            or isinstance(obj.get('modalities'), str) and \
            ':' in obj['modalities']:
        obj['modalities'] = _layout(obj['modalities'])
    return {k: _normalise(v, dataset_layout) for k, v in obj.items()}


def fingerprint(path: str, build: bool) -> dict:
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    plain = _plain(cfg.to_dict())
    # loading steps outside a dataset (train_pipeline, ...) get the config's
    # layout, as the datasets that use them hand it over
    out = dict(config=_normalise(plain, plain.get('modalities')))
    # distillers load a trained teacher when built: their student and
    # teacher configs are compared above
    if build and 'model' in cfg and 'teacher_ckpt' not in cfg.model:
        out['model_params'] = _build(cfg)
    return out


def _build(cfg) -> dict:
    import torch
    from mmengine.registry import MODELS, DefaultScope
    import mm_incomplete  # noqa: F401
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        model = MODELS.build(cfg.model)
    state = model.state_dict()
    entries = [[k, list(v.shape), round(float(v.double().sum()), 3)]
               for k, v in state.items()]
    return dict(
        tensors=len(state),
        numel=sum(v.numel() for v in state.values()),
        digest=hashlib.sha1(json.dumps(entries).encode()).hexdigest())


def is_small(rel: str) -> bool:
    """CPU-size configs, cheap enough to build in a test."""
    return 'cpu' in osp.basename(rel)


def config_files(root: str):
    return sorted(osp.relpath(p, root)
                  for p in glob.glob(osp.join(root, '**', '*.py'),
                                     recursive=True))


def main(root: str, out: str) -> None:
    snap = {}
    for rel in config_files(root):
        if '/_base_/models/' in f'/{rel}':
            continue  # model fragments: no scope, checked through children
        snap[rel] = fingerprint(osp.join(root, rel), build=is_small(rel))
        print(rel, flush=True)
    with open(out, 'w') as f:
        json.dump(snap, f, indent=1, sort_keys=True)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
