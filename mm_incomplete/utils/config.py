"""Find the configs shipped inside the installed package.

The configs live in ``mm_incomplete/configs`` (the repository's top-level
``configs`` is a link to it), so an installed mm_incomplete carries them and a
project elsewhere can inherit one. mmengine's ``pkg::`` base form only accepts
a hard-coded list of OpenMMLab packages, so a config outside this repository
names its base by absolute path, computed by mmengine's own parser from an
expression that does not import this package (see README, "Inheriting our
configs")::

    _base_ = [__import__('importlib.util').util.find_spec('mm_incomplete')
              .submodule_search_locations[0] + '/configs/dmrnet/nyud_rgbd.py']

``python -m mm_incomplete.utils.config dmrnet/nyud_rgbd.py`` prints the path.
"""
import os.path as osp
import sys

CONFIG_ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                       'configs')


def config_path(name: str) -> str:
    """Absolute path of a shipped config, e.g. ``'dmrnet/nyud_rgbd.py'``.

    Example:
        >>> import os.path as osp
        >>> osp.isfile(config_path('_base_/default_runtime_seg.py'))
        True
    """
    path = osp.join(CONFIG_ROOT, name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'mm_incomplete ships no config {name!r} (looked for {path}); '
            f'configs live under {CONFIG_ROOT}')
    return path


def freeze_modality_order(cfg):
    """Write every ``modalities`` dict of ``cfg`` as its ordered string form.

    mmengine's ``Config.dump`` sorts dict keys, so ``dict(rgb=3, depth=1)``
    comes back as ``dict(depth=1, rgb=3)``: another layout, whose channels a
    checkpoint would read as other modalities. ``'rgb:3,depth:1'`` keeps the
    order through a dump. Works in place on (nested) dicts and lists; returns
    ``cfg``.

    Example:
        >>> freeze_modality_order(dict(model=dict(modalities=dict(rgb=3,
        ...                                                      depth=1))))
        {'model': {'modalities': 'rgb:3,depth:1'}}
    """
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'modalities' and isinstance(value, dict):
                cfg[key] = ','.join(f'{n}:{c}' for n, c in value.items())
            else:
                freeze_modality_order(value)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            freeze_modality_order(item)
    return cfg


if __name__ == '__main__':  # pragma: no cover - tiny CLI
    if len(sys.argv) != 2:
        sys.exit('usage: python -m mm_incomplete.utils.config METHOD/CONFIG.py')
    print(config_path(sys.argv[1]))
