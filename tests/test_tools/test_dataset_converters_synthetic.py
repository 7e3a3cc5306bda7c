import importlib.util
import os
import os.path as osp

from mm_incomplete.datasets import SyntheticRGBDSegDataset

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools',
                'dataset_converters', 'synthetic_rgbd.py')
spec = importlib.util.spec_from_file_location('synthetic_cli', TOOL)
cli = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli)


def test_cli_matches_dataset_defaults(tmp_path, capsys):
    out = str(tmp_path / 'seg')
    args = ['seg', '-o', out, '--num-train', '3', '--num-val', '1',
            '--num-test', '1']
    assert cli.main(args) == 0
    assert 'generated' in capsys.readouterr().out
    assert len(os.listdir(osp.join(out, 'rgb', 'train'))) == 3
    # the dataset class accepts the set made by the CLI (same parameters)
    ds = SyntheticRGBDSegDataset(data_root=out, split='val', num_train=3,
                                 num_val=1, num_test=1)
    assert len(ds) == 1
    assert cli.main(args) == 0
    assert 'already present' in capsys.readouterr().out
