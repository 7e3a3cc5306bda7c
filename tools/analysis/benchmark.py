"""Benchmark: train-step cost of the baselines, every-combination evaluation.

Shorthand: B batch, M modalities, C stacked channels, H x W input size,
K = 2^M - 1 combinations.

One run measures, on the CPU (and on CUDA when available):

1. **Train step** (preprocess + forward + backward + SGD step, mmengine's
   ``train_step``) of every case in :data:`TRAIN_CASES`, as a ratio to the
   single-branch RGB model (a plain mmseg ``EncoderDecoder`` + ``ResNet`` of
   the same depth and width on the RGB channels) at the same input size.
2. **Evaluation** of one batch, for every case in :data:`EVAL_CASES`:
   the full combination alone (``full``), all K combinations with the loop's
   reuse (``shared``: ``predict_combinations``, encoders once) and all K
   re-run from scratch (``separate``: one ``test_step`` per combination, what
   K single-combination runs cost). Ratios are to ``full``.
3. The **floor** of the all-combination ratio, from the modules that must
   run: preprocessing + each encoder once + (fusion, decoder, post-processing)
   once per combination, timed part by part (``floor_ratio``) and counted in
   FLOPs with ``torch.utils.flop_counter`` (``flop_floor_ratio``);
   ``shared_over_floor = shared ratio / floor_ratio`` (goal <= 1.10).
4. **Peak memory** of each measurement, as the peak of the bytes newly
   allocated during one step (weights and inputs that existed before are not
   counted): on CUDA ``torch.cuda.max_memory_allocated`` minus the allocated
   bytes before the step; on the CPU the running sum of the allocation /
   free events recorded by ``torch.profiler`` with ``profile_memory=True``
   (an extra, untimed step). Both count tensor memory of the step only.

Times are medians over ``--iters`` timed repeats after ``--warmup``; the
evaluation variants are interleaved repeat by repeat so a busy machine slows
them alike. Output: a table on stdout and a JSON (``--out``).

Adding a case (e.g. a new method)::

    from benchmark import TRAIN_CASES
    TRAIN_CASES['dmrnet'] = lambda base, args: load_model_cfg(
        'configs/dmrnet/synthetic_seg_cpu.py', args)

Example::

    python tools/analysis/benchmark.py --quick --out work_dirs/bench.json
    python tools/analysis/benchmark.py --size 240 320 --width 16 --batch-size 4
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch

DEFAULT_OUT = 'work_dirs/benchmark/benchmark.json'
RGB_CASE = 'rgb_single_branch'


# -- model configs --------------------------------------------------------
def base_multi_branch(args) -> dict:
    """The multi-branch RGB-D segmentor all cases derive from."""
    if args.base_config:
        return load_model_cfg(args.base_config, args)
    w, exp = args.width, (4 if args.depth >= 50 else 1)
    return dict(
        type='MultiModalEncoderDecoder',
        data_preprocessor=dict(
            type='MultiModalSegDataPreProcessor',
            modalities=dict(rgb=3, depth=1),
            mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.8]),
            std=dict(rgb=[58.395, 57.12, 57.375], depth=[1.4]),
            size=tuple(args.size), seg_pad_val=255, train_sampler=None),
        backbone=dict(type='MultiBranchResNet',
                      modalities=dict(rgb=3, depth=1), depth=args.depth,
                      base_channels=w, out_indices=(0, 1, 2, 3)),
        decode_head=dict(type='UPerHead',
                         in_channels=[w * exp * 2**i for i in range(4)],
                         in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6),
                         channels=4 * w, num_classes=args.num_classes,
                         loss_decode=dict(type='CrossEntropyLoss')),
        train_cfg=dict(), test_cfg=dict(mode='whole'))


def load_model_cfg(path: str, args) -> dict:
    """``model`` of a config file, padded to the benchmark's input size."""
    from mmengine.config import Config
    if not osp.isfile(path):
        raise FileNotFoundError(f'--base-config: no config file {path!r}')
    model = Config.fromfile(path).model.to_dict()
    pre = model.get('data_preprocessor') or {}
    if 'size' in pre:
        pre['size'] = tuple(args.size)
    return model


def _multi_branch_full(base, args):
    cfg = copy.deepcopy(base)
    cfg['data_preprocessor']['train_sampler'] = None
    return cfg


def _multi_branch_moddrop(base, args):
    cfg = copy.deepcopy(base)
    cfg['data_preprocessor']['train_sampler'] = dict(type='ModDrop',
                                                     drop_prob=0.5, seed=0)
    return cfg


def _early_fusion(base, args):
    cfg = _multi_branch_full(base, args)
    bb = cfg['backbone']
    for key in ('fusion', 'feedback'):
        bb.pop(key, None)
    bb['type'] = 'EarlyFusionResNet'
    return cfg


def _rgb_single_branch(base, args):
    """Plain mmseg EncoderDecoder + ResNet on the RGB channels only."""
    cfg = copy.deepcopy(base)
    bb = cfg['backbone']
    for key in ('fusion', 'feedback', 'modalities'):
        bb.pop(key, None)
    bb.update(type='ResNet', in_channels=3)
    pre = cfg['data_preprocessor']
    mean = pre.get('mean') or {'rgb': [0.0] * 3}
    std = pre.get('std') or {'rgb': [1.0] * 3}
    cfg['data_preprocessor'] = dict(
        type='SegDataPreProcessor', mean=list(mean['rgb']),
        std=list(std['rgb']), bgr_to_rgb=False, size=pre.get('size'),
        pad_val=0, seg_pad_val=255)
    cfg['type'] = 'EncoderDecoder'
    return cfg


#: train-step cases: name -> (base multi-branch cfg, args) -> model cfg.
#: The RGB case is the reference of every ratio.
TRAIN_CASES: Dict[str, Callable[[dict, argparse.Namespace], dict]] = {
    RGB_CASE: _rgb_single_branch,
    'early_fusion': _early_fusion,
    'multi_branch_full': _multi_branch_full,
    'multi_branch_moddrop': _multi_branch_moddrop,
}
#: cases whose every-combination evaluation is measured
EVAL_CASES: List[str] = ['multi_branch_moddrop', 'early_fusion']


# -- data -------------------------------------------------------------------
def make_batch(model, args, seed: int = 0) -> dict:
    """A loader-like batch: B raw (C, H, W) inputs 0..255 and SegDataSamples
    with random labels; C follows the model's layout (3 for plain RGB)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    layout = getattr(model.data_preprocessor, 'layout', None)
    channels = layout.total_channels if layout is not None else 3
    g = torch.Generator().manual_seed(seed)
    h, w = args.size
    inputs, samples = [], []
    for i in range(args.batch_size):
        inputs.append(torch.rand(channels, h, w, generator=g) * 255)
        label = torch.randint(0, args.num_classes, (1, h, w), generator=g)
        s = SegDataSample(metainfo=dict(img_path=f'{i}.png', ori_shape=(h, w),
                                        img_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def clone_batch(batch: dict) -> dict:
    return dict(inputs=[x.clone() for x in batch['inputs']],
                data_samples=[s.clone() for s in batch['data_samples']])


def build_model(cfg: dict, device: str):
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    # PyTorch's default initialisation: timings do not depend on the values
    model = MODELS.build(dict(copy.deepcopy(cfg), _scope_='mmseg'))
    return model.to(device)


# -- measuring --------------------------------------------------------------
def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def peak_memory_mb(fn: Callable[[], object], device: str) -> float:
    """Peak MiB newly allocated while ``fn`` runs (see module docstring)."""
    if device.startswith('cuda'):
        _sync(device)
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        _sync(device)
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes())
                    for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]'
                    and str(e.device_type()).endswith('CPU'))
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak / 2**20


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of the matmuls / convolutions ``fn`` runs."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def time_interleaved(fns: Dict[str, Callable[[], object]], device: str,
                     warmup: int, iters: int) -> Dict[str, List[float]]:
    """Seconds per call of each function, repeats interleaved."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(iters):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return times


def _ms(values: Sequence[float]) -> float:
    return 1000.0 * statistics.median(values)


# -- train steps -------------------------------------------------------------
def bench_train(args, device: str) -> Dict[str, dict]:
    from mmengine.optim import OptimWrapper
    base = base_multi_branch(args)
    steps, models = {}, {}
    for name, make_cfg in TRAIN_CASES.items():
        model = build_model(make_cfg(base, args), device).train()
        optim = OptimWrapper(torch.optim.SGD(
            model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
            weight_decay=1e-4))
        batch = make_batch(model, args)
        models[name] = model
        steps[name] = (lambda m=model, o=optim, b=batch:
                       m.train_step(clone_batch(b), o))
    times = time_interleaved(steps, device, args.warmup, args.iters)
    ref = _ms(times[RGB_CASE])
    out = {}
    for name, fn in steps.items():
        med = _ms(times[name])
        out[name] = dict(
            median_ms=med, mean_ms=1000.0 * statistics.mean(times[name]),
            ratio_to_rgb=med / ref,
            params_m=sum(p.numel() for p in models[name].parameters()) / 1e6,
            peak_mem_mb=peak_memory_mb(fn, device))
    return out


# -- every-combination evaluation ------------------------------------------
def _floor_parts(model, batch, combos):
    """Callables for the parts that must run: preprocess, encoders once,
    one tail (fusion + neck + decoder + post-processing) per combination."""
    layout = model.layout
    data = model.data_preprocessor(clone_batch(batch), False)
    inputs, samples = data['inputs'], data['data_samples']
    metas = [s.metainfo for s in samples]
    bsz = inputs.shape[0]
    masks = {layout.combination_name(c):
             layout.combination_mask(c).to(inputs.device).expand(bsz, -1)
             for c in combos}
    bb = model.backbone
    parts = {'preprocess': lambda: model.data_preprocessor(
        clone_batch(batch), False)}
    if getattr(bb, 'encoder_is_mask_independent', False):
        union = torch.stack(list(masks.values())).any(0)
        feats = bb.encode(inputs, union)
        parts['encode'] = lambda: bb.encode(inputs, union)

        def tail(mask):
            x = bb.fuse(feats, mask)
            if model.with_neck:
                x = model.neck(x)
            logits = model.decode_head.predict(x, metas, model.test_cfg)
            return model.postprocess_result(logits,
                                            [s.clone() for s in samples])
    else:  # the encoder sees the mask: one full pass per combination

        def tail(mask):
            logits = model.encode_decode(inputs, metas, mask)
            return model.postprocess_result(logits,
                                            [s.clone() for s in samples])
    for name, mask in masks.items():
        parts[f'tail:{name}'] = (lambda m=mask: tail(m))
    return parts


def bench_eval(args, device: str) -> Dict[str, dict]:
    from mm_incomplete.evaluation.predict import predict_every_combination
    base = base_multi_branch(args)
    out = {}
    for name in EVAL_CASES:
        model = build_model(TRAIN_CASES[name](base, args), device).eval()
        layout = model.layout
        combos = layout.combinations()
        full = layout.full
        full_name = layout.combination_name(full)
        batch = make_batch(model, args, seed=1)

        def run(cs, reuse, m=model, b=batch, lo=layout):
            with torch.no_grad():
                return predict_every_combination(m, clone_batch(b), lo, cs,
                                                 reuse=reuse)

        variants = {
            'full': lambda: run([full], True),
            'shared': lambda: run(combos, True),
            'separate': lambda: run(combos, False),
        }
        with torch.no_grad():
            parts = _floor_parts(model, batch, combos)
        timed = dict(variants)
        timed.update({f'part:{k}': v for k, v in parts.items()})
        with torch.no_grad():
            times = time_interleaved(timed, device, args.warmup, args.iters)
            part_ms = {k: _ms(times[f'part:{k}']) for k in parts}
            flops = {k: count_flops(v) for k, v in variants.items()}
            part_flops = {k: count_flops(v) for k, v in parts.items()}
            mem = {k: peak_memory_mb(v, device) for k, v in variants.items()}
        ms = {k: _ms(times[k]) for k in variants}
        shared_parts = [k for k in parts if not k.startswith('tail:')]
        floor_all = sum(part_ms.values())
        floor_full = sum(part_ms[k] for k in shared_parts) + \
            part_ms[f'tail:{full_name}']
        flop_all = sum(part_flops.values())
        flop_full = sum(part_flops[k] for k in shared_parts) + \
            part_flops[f'tail:{full_name}']
        floor_ratio = floor_all / floor_full
        ratio_shared = ms['shared'] / ms['full']
        out[name] = dict(
            combinations=[layout.combination_name(c) for c in combos],
            encoder_reused=bool(getattr(model.backbone,
                                        'encoder_is_mask_independent',
                                        False)),
            full_ms=ms['full'], shared_ms=ms['shared'],
            separate_ms=ms['separate'], part_ms=part_ms,
            ratio_shared=ratio_shared,
            ratio_separate=ms['separate'] / ms['full'],
            floor_ratio=floor_ratio,
            shared_over_floor=ratio_shared / floor_ratio,
            flops_g={k: v / 1e9 for k, v in flops.items()},
            flop_ratio_shared=flops['shared'] / flops['full'],
            flop_ratio_separate=flops['separate'] / flops['full'],
            flop_floor_ratio=flop_all / flop_full,
            peak_mem_mb=mem)
    return out


# -- report --------------------------------------------------------------------
def format_report(result: dict) -> str:
    lines = []
    for device, res in result['devices'].items():
        lines.append(f'== {device}: train step (forward + backward + SGD), '
                     f'B={result["settings"]["batch_size"]}, '
                     f'{result["settings"]["size"][0]}x'
                     f'{result["settings"]["size"][1]} ==')
        lines.append(f'{"case":<24}{"ms":>10}{"x rgb":>8}{"params M":>10}'
                     f'{"peak MiB":>10}')
        for name, r in res['train_step'].items():
            lines.append(f'{name:<24}{r["median_ms"]:>10.1f}'
                         f'{r["ratio_to_rgb"]:>8.2f}{r["params_m"]:>10.2f}'
                         f'{r["peak_mem_mb"]:>10.1f}')
        lines.append(f'== {device}: evaluate one batch under every '
                     'combination (ratios to the full combination alone) ==')
        lines.append(f'{"case":<24}{"full ms":>9}{"shared":>8}{"separate":>9}'
                     f'{"floor":>7}{"shr/flr":>8}{"flop shr":>9}'
                     f'{"flop flr":>9}{"flop sep":>9}')
        for name, r in res['eval'].items():
            lines.append(
                f'{name:<24}{r["full_ms"]:>9.1f}{r["ratio_shared"]:>8.2f}'
                f'{r["ratio_separate"]:>9.2f}{r["floor_ratio"]:>7.2f}'
                f'{r["shared_over_floor"]:>8.2f}'
                f'{r["flop_ratio_shared"]:>9.2f}{r["flop_floor_ratio"]:>9.2f}'
                f'{r["flop_ratio_separate"]:>9.2f}')
            lines.append(f'{"":<24}peak MiB: ' + ', '.join(
                f'{k} {v:.1f}' for k, v in r['peak_mem_mb'].items()))
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[1],
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--size', type=int, nargs=2, default=[240, 320],
                   metavar=('H', 'W'), help='input size (default 240 320)')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--depth', type=int, default=18, help='ResNet depth')
    p.add_argument('--width', type=int, default=16,
                   help='base_channels of every ResNet (64 = full width)')
    p.add_argument('--num-classes', type=int, default=40)
    p.add_argument('--base-config',
                   help='config whose `model` (a multi-branch segmentor) '
                   'replaces the built-in one; the cases derive from it')
    p.add_argument('--iters', type=int, default=10, help='timed repeats')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--devices', nargs='+', default=None,
                   help='default: cpu, plus cuda when available')
    p.add_argument('--threads', type=int, help='torch CPU threads')
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes for tests: 64x64, B=2, width 4, '
                   '2 repeats')
    p.add_argument('--out', default=DEFAULT_OUT, help='JSON output path')
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.batch_size, args.width = [64, 64], 2, 4
        args.iters, args.warmup, args.num_classes = 2, 1, 5
    if args.batch_size < 2:
        p.error('--batch-size must be >= 2 (BatchNorm in training)')
    if min(args.size) < 32:
        p.error('--size must be at least 32x32 (ResNet output stride 32)')
    if args.iters < 1 or args.warmup < 0:
        p.error('--iters must be >= 1 and --warmup >= 0')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    import mm_incomplete  # noqa: F401  registers the models
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (['cpu', 'cuda'] if torch.cuda.is_available()
                               else ['cpu'])
    for d in devices:
        if d.startswith('cuda') and not torch.cuda.is_available():
            raise SystemExit(f'--devices {d}: CUDA is not available here')
    result = dict(
        settings=dict(size=list(args.size), batch_size=args.batch_size,
                      depth=args.depth, width=args.width,
                      num_classes=args.num_classes, iters=args.iters,
                      warmup=args.warmup, base_config=args.base_config,
                      threads=torch.get_num_threads(),
                      torch=torch.__version__,
                      cuda_device=(torch.cuda.get_device_name(0)
                                   if torch.cuda.is_available() else None),
                      memory='peak bytes newly allocated during one step: '
                      'CUDA max_memory_allocated delta / CPU torch.profiler '
                      'allocation events'),
        devices={})
    for device in devices:
        print(f'benchmarking on {device} ...', file=sys.stderr)
        result['devices'][device] = dict(train_step=bench_train(args, device),
                                         eval=bench_eval(args, device))
    print(format_report(result))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(f'wrote {args.out}')
    return result


if __name__ == '__main__':
    main()
