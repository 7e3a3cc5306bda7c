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


if __name__ == '__main__':  # pragma: no cover - tiny CLI
    if len(sys.argv) != 2:
        sys.exit('usage: python -m mm_incomplete.utils.config METHOD/CONFIG.py')
    print(config_path(sys.argv[1]))
