"""--show-dir: CombinationVisualizationHook draws every combination.

A tiny multi-branch segmentor and classifier (random weights) are tested by
a real mmengine Runner with the every-combination test loop; the hook writes
one panel per `interval`-th sample whose prediction tiles equal the
predictions of each combination.
"""
import copy
import os
import uuid

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mm_incomplete  # noqa: F401
from mm_incomplete.visualization import add_show_dir_hook

MODALITIES = dict(rgb=3, depth=1)


class SegSet(Dataset):
    metainfo = dict(classes=('a', 'b', 'c'),
                    palette=[[255, 0, 0], [0, 255, 0], [0, 0, 255]])

    def __init__(self, num=5, size=32):
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        g = torch.Generator().manual_seed(3)
        self.items = []
        for i in range(num):
            img = torch.rand(4, size, size, generator=g) * 255
            img[3] = img[3] / 50  # depth in metres
            sample = SegDataSample(metainfo=dict(
                img_path=f'/d/frame{i}.png', ori_shape=(size, size),
                img_shape=(size, size)))
            sample.gt_sem_seg = PixelData(
                data=(img[0] > 128).long()[None])
            self.items.append(dict(inputs=img, data_samples=sample))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return copy.deepcopy(self.items[i])


def seg_model():
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiModalEncoderDecoder', _scope_='mmseg',
        data_preprocessor=dict(
            type='MultiModalSegDataPreProcessor', modalities=MODALITIES,
            mean=dict(rgb=[128.] * 3, depth=[2.5]),
            std=dict(rgb=[64.] * 3, depth=[1.5])),
        backbone=dict(type='MultiBranchResNet', modalities=MODALITIES,
                      depth=18, base_channels=4, num_stages=2,
                      strides=(1, 2), dilations=(1, 1), out_indices=(1, )),
        decode_head=dict(type='FCNHead', in_channels=8, in_index=0,
                         channels=8, num_convs=1, num_classes=3)))
    model.init_weights()
    torch.nn.init.normal_(model.decode_head.conv_seg.weight, std=1.0)
    return model


def test_show_dir_panels_hold_every_combination(tmp_path):
    show = str(tmp_path / 'show')
    cfg = Config(dict(custom_hooks=[]))
    add_show_dir_hook(cfg, show, interval=2)
    runner = Runner(
        model=seg_model(), work_dir=str(tmp_path / 'work'),
        experiment_name=f'show_{uuid.uuid4().hex}', default_scope='mmseg',
        test_dataloader=dict(dataset=SegSet(), batch_size=2, num_workers=0,
                             sampler=dict(type='DefaultSampler',
                                          shuffle=False)),
        test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        test_cfg=dict(type='MultiCombinationTestLoop', combinations='all'),
        custom_hooks=cfg.custom_hooks)
    runner.test()
    # samples 0, 2, 4 of 5 (interval 2, counted across batches)
    assert sorted(os.listdir(show)) == ['frame0.png', 'frame2.png',
                                        'frame4.png']
    panel = cv2.imread(os.path.join(show, 'frame2.png'))[..., ::-1]
    # rgb | depth | GT | rgb+depth | rgb | depth, 256 px each (32 px scaled)
    assert panel.shape[1] == 6 * 256 + 5 * 4
    body = panel[-256:]
    tiles = [body[:, k * 260:k * 260 + 256] for k in range(6)]
    # the depth tile is colour-mapped (not grey) and the GT tile uses the
    # palette: class 1 green where the red channel > 128
    assert len(np.unique(tiles[1].reshape(-1, 3), axis=0)) > 10
    item = SegSet()[2]
    gt = (item['inputs'][0] > 128).numpy()
    gt_big = cv2.resize(gt.astype(np.uint8), (256, 256),
                        interpolation=cv2.INTER_NEAREST).astype(bool)
    assert (tiles[2][gt_big] == [0, 255, 0]).all()
    assert (tiles[2][~gt_big] == [255, 0, 0]).all()
    # each prediction tile shows its own combination's prediction
    model = runner.model
    model.eval()
    batch = dict(inputs=[item['inputs']], data_samples=[item['data_samples']])
    data = model.data_preprocessor(batch, False)
    preds = model.predict_combinations(data['inputs'], data['data_samples'])
    rgb = cv2.resize(item['inputs'][:3].permute(1, 2, 0).numpy(),
                     (256, 256), interpolation=cv2.INTER_NEAREST)
    palette = np.array(SegSet.metainfo['palette'], np.float32)
    distinct = set()
    for k, combo in enumerate(['rgb+depth', 'rgb', 'depth']):
        pred = preds[combo][0].pred_sem_seg.data[0].numpy()
        distinct.add(pred.tobytes())
        big = cv2.resize(pred.astype(np.uint8), (256, 256),
                         interpolation=cv2.INTER_NEAREST)
        want = (np.clip(rgb, 0, 255).astype(np.uint8).astype(np.float32) *
                0.5 + palette[big] * 0.5).astype(np.uint8)
        np.testing.assert_array_equal(tiles[3 + k], want, err_msg=combo)
    assert len(distinct) > 1


class ClsSet(Dataset):
    metainfo = dict(classes=('cat', 'dog', 'cow'))

    def __init__(self, num=7, size=16):
        from mmpretrain.structures import DataSample
        g = torch.Generator().manual_seed(4)
        self.items = []
        for i in range(num):
            img = torch.rand(4, size, size, generator=g) * 255
            sample = DataSample(metainfo=dict(img_path=f'/c/im{i}.png'))
            sample.set_gt_label(i % 3)
            self.items.append(dict(inputs=img, data_samples=sample))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return copy.deepcopy(self.items[i])


def test_show_dir_classification_every_sample_readable(tmp_path):
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiModalImageClassifier', _scope_='mmpretrain',
        data_preprocessor=dict(
            type='MultiModalClsDataPreProcessor', modalities=MODALITIES,
            mean=dict(rgb=[128.] * 3, depth=[128.]),
            std=dict(rgb=[64.] * 3, depth=[64.])),
        backbone=dict(type='MultiBranchResNet', modalities=MODALITIES,
                      depth=18, base_channels=4, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=32)))
    show = str(tmp_path / 'show')
    cfg = Config(dict(custom_hooks=[]))
    add_show_dir_hook(cfg, show)  # default interval: every sample
    runner = Runner(
        model=model, work_dir=str(tmp_path / 'work'),
        experiment_name=f'show_{uuid.uuid4().hex}',
        default_scope='mmpretrain',
        test_dataloader=dict(dataset=ClsSet(), batch_size=4, num_workers=0,
                             sampler=dict(type='DefaultSampler',
                                          shuffle=False)),
        test_evaluator=dict(type='Accuracy', topk=(1, )),
        test_cfg=dict(type='MultiCombinationTestLoop', combinations='all'),
        custom_hooks=cfg.custom_hooks)
    runner.test()
    assert sorted(os.listdir(show)) == [f'im{i}.png' for i in range(7)]
    panel = cv2.imread(os.path.join(show, 'im0.png'))
    # 16 px inputs drawn at 256 px: rgb | depth | text column of 512 px
    assert panel.shape[1] == 256 + 4 + 256 + 4 + 512
    assert panel.shape[0] >= 256
