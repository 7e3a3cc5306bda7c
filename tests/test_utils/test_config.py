import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mm_incomplete.utils import CONFIG_ROOT, config_path

EXPR = ("__import__('importlib.util').util.find_spec('mm_incomplete')"
        ".submodule_search_locations[0] + '/configs/{}'")


def test_config_path():
    assert config_path('_base_/default_runtime_seg.py') == osp.join(
        CONFIG_ROOT, '_base_', 'default_runtime_seg.py')
    with pytest.raises(FileNotFoundError, match='no config'):
        config_path('nope/nothing.py')


def test_inherit_shipped_config_from_elsewhere(tmp_path):
    user = tmp_path / 'my_cfg.py'
    user.write_text(f'_base_ = [{EXPR.format("_base_/default_runtime_seg.py")}]'
                    '\nrandomness = dict(seed=7)\n')
    cfg = Config.fromfile(str(user))
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports.imports == ['mm_incomplete']
    assert cfg.randomness.seed == 7


def test_cli_prints_path():
    out = subprocess.run(
        [sys.executable, '-m', 'mm_incomplete.utils.config',
         '_base_/default_runtime_cls.py'],
        capture_output=True, text=True, check=True).stdout.strip()
    assert out == config_path('_base_/default_runtime_cls.py')


def test_freeze_modality_order_survives_a_dump(tmp_path):
    """Config.dump sorts dict keys; the string form keeps rgb before depth."""
    from mm_incomplete.modality import ModalityLayout
    from mm_incomplete.utils import freeze_modality_order
    cfg = Config.fromfile(
        config_path('baselines/multi_branch_moddrop_synthetic_seg_cpu.py'))
    plain = str(tmp_path / 'plain.py')
    cfg.dump(plain)
    assert list(Config.fromfile(plain).model.data_preprocessor.modalities) \
        == ['depth', 'rgb']  # what a plain dump does
    freeze_modality_order(cfg._cfg_dict)
    frozen = str(tmp_path / 'frozen.py')
    cfg.dump(frozen)
    back = Config.fromfile(frozen)
    for spec in (back.model.data_preprocessor.modalities,
                 back.test_dataloader.dataset.modalities):
        assert ModalityLayout(spec).names == ('rgb', 'depth'), spec
    # the pipeline's loading step takes the dataset's layout (none of its own)
    assert 'modalities' not in back.test_dataloader.dataset.pipeline[0]
