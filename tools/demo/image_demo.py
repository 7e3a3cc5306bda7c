"""Predict one RGB-D sample (any modality may be missing) per combination.

    python tools/demo/image_demo.py RGB CONFIG [CHECKPOINT] [--depth DEPTH]
        [--modality NAME=PATH ...] [--modalities all|present|rgb,...]
        [--out-dir DIR] [--device cpu]

Writes ``DIR/<name>_panel.png`` (each modality | the prediction of each
combination) and ``DIR/<name>_<combination>.png`` (one overlay per
combination) and prints the predictions. Leave ``--depth`` out to predict
from RGB alone; pass ``RGB`` as ``-`` to predict from the other modalities
alone. The same code as :class:`mm_incomplete.apis.MultiModalInferencer`.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mm_incomplete.apis.demo import main  # noqa: E402

if __name__ == '__main__':
    main()
