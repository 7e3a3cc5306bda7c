"""Benchmark: train-step cost of the baselines, every-combination evaluation.

Shorthand: B batch, M modalities, C stacked channels, H x W input size,
K = 2^M - 1 combinations.

One run measures, on the CPU (and on CUDA when available):

1. **Train step** (preprocess + forward + backward + SGD step, mmengine's
   ``train_step``) of every case in :data:`TRAIN_CASES` (the models of the
   shipped ``configs/baselines/*_synthetic_seg_cpu.py``: ResNet-18 of width
   16, UPerHead; or with ``--preset nyud`` of ``*_nyud_rgbd.py``: ResNet-50,
   ESANet's decoder, plus the UPerHead option of the ModDrop baseline,
   SyncBN run as BN; inputs padded to ``--size``), as a ratio to the
   single-branch RGB model (a
   plain mmseg ``EncoderDecoder`` + ``ResNet`` of the same depth, width and
   stem on the RGB channels) at the same input size.
2. **Evaluation** of one batch, for every case in :data:`EVAL_CASES`:
   the full combination alone (``full``), all K combinations with the loop's
   reuse (``shared``: ``predict_combinations``, encoders once) and all K
   re-run from scratch (``separate``: one ``test_step`` per combination, what
   K single-combination runs cost). Ratios are to ``full``.
3. The **floor** of the all-combination ratio, from the modules that must
   run: preprocessing + each encoder once + (fusion, decoder, post-processing)
   once per combination, timed part by part (``floor_ratio``) and counted in
   FLOPs with ``torch.utils.flop_counter`` (``flop_floor_ratio``);
   ``shared_over_floor = shared ratio / floor_ratio`` (goal <= 1.10);
   ``gflops_per_image``: the FLOPs of each variant per image.
4. **Peak memory** of each measurement, as the peak of the bytes newly
   allocated during one step (weights and inputs that existed before are not
   counted): on CUDA ``torch.cuda.max_memory_allocated`` minus the allocated
   bytes before the step; on the CPU the running sum of the allocation /
   free events recorded by ``torch.profiler`` with ``profile_memory=True``
   (an extra, untimed step). Both count tensor memory of the step only.
5. **Throughput** of each train step: ``flop_per_step`` (matmuls and
   convolutions of forward + backward, ``torch.utils.flop_counter``) and
   ``flop_per_s`` (that over the fastest step time). On CUDA also
   ``gpu_busy`` (the union of the step's GPU kernel / copy intervals seen by
   ``torch.profiler`` over its wall time) and ``syncs_per_step`` (host
   synchronisations, counted as the warnings of
   ``torch.cuda.set_sync_debug_mode('warn')`` during one step); both are
   ``None`` on the CPU.

``--amp`` runs the train steps under autocast in bfloat16 (float16 with
dynamic loss scaling, mmengine's ``AmpOptimWrapper``, on a GPU without
bfloat16); ``--channels-last`` converts the models' weights to channels_last
(the convolutions then run channels_last). Evaluation stays in fp32.

Every time (wall clock, or process CPU time with ``--clock cpu``, meant
for ``--threads 1`` on a shared machine) is the fastest of ``--iters`` timed
repeats after ``--warmup``
(the repeat least disturbed by other load; medians are in the JSON too), and
the measured functions are interleaved repeat by repeat so a busy machine
slows them alike. Output: a table on stdout and a JSON (``--out``).

Adding a case (e.g. a new method)::

    from benchmark import TRAIN_CASES, from_config
    TRAIN_CASES['dmrnet'] = from_config('dmrnet/synthetic_seg_cpu.py')

or ``--case dmrnet=dmrnet/synthetic_seg_cpu.py`` on the command line.

Example::

    python tools/analysis/benchmark.py --quick --out work_dirs/bench.json
    python tools/analysis/benchmark.py --size 240 320 --batch-size 4 \\
        --case dmrnet=dmrnet/synthetic_seg_cpu.py
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import statistics
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional, Sequence

import torch

DEFAULT_OUT = 'work_dirs/benchmark/benchmark.json'
RGB_CASE = 'rgb_single_branch'


# -- model configs --------------------------------------------------------
def load_model_cfg(path: str, args) -> dict:
    """``model`` of a config file, padded to the benchmark's input size.

    ``path`` is a file or a config shipped with the package
    (``'baselines/multi_branch_full_synthetic_seg_cpu.py'``). A training
    sampler without a seed gets ``seed=0`` so every run draws the same masks.
    """
    from mmengine.config import Config

    from mm_incomplete.utils import config_path
    if not osp.isfile(path):
        try:
            path = config_path(path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f'no config file {path!r} (neither a path nor a config '
                'shipped under mm_incomplete/configs)') from None
    model = _single_process_norm(Config.fromfile(path).model.to_dict())
    # a distiller's preprocessing is its student's
    pre = (model.get('data_preprocessor')
           or model.get('student', {}).get('data_preprocessor') or {})
    if 'size' in pre:
        pre['size'] = tuple(args.size)
    sampler = pre.get('train_sampler')
    if isinstance(sampler, dict) and 'type' in sampler:
        sampler.setdefault('seed', 0)
    return model


def _single_process_norm(cfg):
    """SyncBN -> BN everywhere: the benchmark runs in one process; class
    weights read from the dataset's file -> unweighted cross-entropy (the
    benchmark has no data; the cost is the same)."""
    if isinstance(cfg, dict):
        out = {k: _single_process_norm(v) for k, v in cfg.items()}
        if out.get('type') == 'SyncBN':
            out['type'] = 'BN'
        if out.get('type') == 'FileWeightedCrossEntropyLoss':
            out.pop('class_weight_file')
            out['type'] = 'CrossEntropyLoss'
        return out
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_single_process_norm(v) for v in cfg)
    return cfg


def from_config(path: str) -> Callable[[argparse.Namespace], dict]:
    """A case whose model is the ``model`` of config ``path``."""

    def make(args):
        return load_model_cfg(path, args)

    make.config = path
    return make


def _same_stem(bb: dict) -> dict:
    """mmseg ResNet's stem defaults to 64 channels whatever the width, the
    multi-branch backbone's to ``base_channels``: keep them equal."""
    bb.setdefault('stem_channels', bb.get('base_channels', 64))
    return bb


def _rgb_single_branch(args) -> dict:
    """The multi-branch baseline with one plain mmseg ``ResNet`` (same depth,
    width, stages) on the RGB channels, in mmseg's ``EncoderDecoder``."""
    cfg = load_model_cfg(PRESETS[args.preset][MULTI_BRANCH_FULL], args)
    bb = cfg['backbone']
    for key in ('fusion', 'feedback', 'modalities'):
        bb.pop(key, None)
    _same_stem(bb).update(type='ResNet', in_channels=3)
    pre = cfg['data_preprocessor']
    cfg['data_preprocessor'] = dict(
        type='SegDataPreProcessor', mean=list(pre['mean']['rgb']),
        std=list(pre['std']['rgb']), bgr_to_rgb=False, size=pre.get('size'),
        pad_val=0, seg_pad_val=255)
    cfg['type'] = 'EncoderDecoder'
    return cfg


MULTI_BRANCH_FULL = 'multi_branch_full'
#: the baseline configs of each ``--preset``: ``synthetic`` (ResNet-18 of
#: width 16, UPerHead of 64 channels) and ``nyud`` (the papers' two
#: ResNet-50 branches, ESANet's decoder)
PRESETS = {
    preset: {name: f'baselines/{name}_{suffix}.py'
             for name in ('early_fusion', 'multi_branch_full',
                          'multi_branch_moddrop')}
    for preset, suffix in (('synthetic', 'synthetic_seg_cpu'),
                           ('nyud', 'nyud_rgbd'))
}


def _preset_case(name: str) -> Callable[[argparse.Namespace], dict]:

    def make(args):
        return load_model_cfg(PRESETS[args.preset][name], args)

    make.config = f'baselines/{name}_<preset>.py'
    return make


#: train-step cases: name -> (args) -> model cfg; the RGB case is the
#: reference of every ratio. Add a method with
#: ``TRAIN_CASES['dmrnet'] = from_config('dmrnet/synthetic_seg_cpu.py')``
#: or ``--case dmrnet=dmrnet/synthetic_seg_cpu.py``.
TRAIN_CASES: Dict[str, Callable[[argparse.Namespace], dict]] = {
    RGB_CASE: _rgb_single_branch,
    'early_fusion': _preset_case('early_fusion'),
    'multi_branch_full': _preset_case('multi_branch_full'),
    'multi_branch_moddrop': _preset_case('multi_branch_moddrop'),
}
#: cases whose every-combination evaluation is measured
EVAL_CASES: List[str] = ['multi_branch_moddrop', 'early_fusion']
#: more cases of a preset, measured in training and evaluation: the nyud
#: baselines use ESANet's decoder (the papers'); the UPerHead option of the
#: ModDrop baseline is measured next to them
PRESET_EXTRA_CASES: Dict[str, Dict[str, str]] = {
    'nyud': {'multi_branch_moddrop_uper':
             'baselines/multi_branch_moddrop_nyud_rgbd_uper.py'},
}


# -- data -------------------------------------------------------------------
def make_batch(model, args, seed: int = 0) -> dict:
    """A loader-like batch: B raw (C, H, W) inputs 0..255 and SegDataSamples
    with random labels; C follows the model's layout (3 for plain RGB)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    layout = getattr(model.data_preprocessor, 'layout', None)
    channels = layout.total_channels if layout is not None else 3
    num_classes = getattr(model, 'student', model).decode_head.num_classes
    g = torch.Generator().manual_seed(seed)
    h, w = args.size
    inputs, samples = [], []
    for i in range(args.batch_size):
        inputs.append(torch.rand(channels, h, w, generator=g) * 255)
        label = torch.randint(0, num_classes, (1, h, w), generator=g)
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
    with _teacher_at_init(cfg):
        model = MODELS.build(dict(copy.deepcopy(cfg), _scope_='mmseg'))
    return model.to(device)


def _teacher_at_init(cfg: dict):
    """A distiller (a ``teacher_ckpt`` in ``cfg``) keeps its teacher's
    initial weights instead of loading the checkpoint, which the benchmark
    does not have; the teacher stays frozen and runs as in training, so
    the step costs the same. Other models: nothing changes."""
    if 'teacher_ckpt' not in cfg:
        return contextlib.nullcontext()
    from unittest import mock

    from mm_incomplete.models.distillers import base_distiller
    print(f'[benchmark] {cfg.get("type")}: the teacher keeps its initial '
          f'weights (teacher_ckpt {cfg["teacher_ckpt"]!r} not read)',
          flush=True)
    return mock.patch.object(base_distiller, 'load_teacher_checkpoint',
                             lambda *args, **kwargs: None)


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


def union_ns(intervals: Sequence[Sequence[int]]) -> int:
    """Total length of the union of ``(start, end)`` intervals."""
    total, cur_start, cur_end = 0, None, None
    for start, end in sorted(intervals):
        if end < start:
            raise ValueError(f'interval ends before it starts: {start, end}')
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def gpu_busy_fraction(fn: Callable[[], object]) -> float:
    """Fraction of one call of ``fn`` (wall time, CUDA) during which the
    GPU runs a kernel, copy or memset, from ``torch.profiler``."""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU,
                             ProfilerActivity.CUDA]) as prof:
        torch.cuda.synchronize()
        fn()
        torch.cuda.synchronize()
    events = list(prof.profiler.kineto_results.events())
    gpu = [(e.start_ns(), e.start_ns() + e.duration_ns()) for e in events
           if str(e.device_type()).endswith('CUDA')]
    if not gpu:
        raise RuntimeError('torch.profiler recorded no GPU activity for the '
                           'step: is the model on the GPU?')
    cpu = [(e.start_ns(), e.start_ns() + e.duration_ns()) for e in events
           if str(e.device_type()).endswith('CPU')]
    span = max(e for _, e in cpu + gpu) - min(s for s, _ in cpu + gpu)
    return union_ns(gpu) / span


def count_syncs(fn: Callable[[], object]) -> int:
    """Host synchronisations during one call of ``fn`` (CUDA), counted as
    the warnings of ``torch.cuda.set_sync_debug_mode('warn')``."""
    torch.cuda.synchronize()
    previous = torch.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode(previous)
    return sum('synchroniz' in str(w.message) for w in caught)


def amp_setup(device: str):
    """(autocast context factory or None, optim wrapper class, kwargs)
    for ``--amp`` on ``device``: bf16 where supported, else fp16 + dynamic
    loss scaling."""
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    if device.startswith('cuda'):
        dtype = 'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'
        # AmpOptimWrapper enters autocast itself (optim_context)
        return None, AmpOptimWrapper, dict(dtype=dtype, loss_scale='dynamic')
    return (lambda: torch.autocast('cpu', dtype=torch.bfloat16),
            OptimWrapper, {})


def time_interleaved(fns: Dict[str, Callable[[], object]], device: str,
                     warmup: int, iters: int,
                     clock: str = 'wall') -> Dict[str, List[float]]:
    """Seconds per call of each function, repeats interleaved.

    ``clock='cpu'`` measures the process's CPU time (``time.process_time``):
    with one thread it is the compute time, unaffected by other jobs
    holding the cores; CUDA always uses wall time.
    """
    now = time.process_time if clock == 'cpu' and \
        not device.startswith('cuda') else time.perf_counter
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(iters):
        for name, fn in fns.items():
            _sync(device)
            start = now()
            fn()
            _sync(device)
            times[name].append(now() - start)
    return times


def _ms(values: Sequence[float]) -> float:
    """Fastest repeat in milliseconds."""
    return 1000.0 * min(values)


def _median_ms(values: Sequence[float]) -> float:
    return 1000.0 * statistics.median(values)


# -- train steps -------------------------------------------------------------
def make_train_steps(args, device: str):
    """``({case: step()}, {case: model})``, honouring ``--amp`` and
    ``--channels-last``."""
    from mmengine.optim import OptimWrapper
    autocast, wrapper, wrapper_kwargs = (
        amp_setup(device) if args.amp else (None, OptimWrapper, {}))
    context = autocast or contextlib.nullcontext
    steps, models = {}, {}
    for name, make_cfg in args.cases.items():
        model = build_model(make_cfg(args), device).train()
        if args.channels_last:
            model = model.to(memory_format=torch.channels_last)
        optim = wrapper(optimizer=torch.optim.SGD(
            model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
            weight_decay=1e-4), **wrapper_kwargs)
        batch = make_batch(model, args)
        models[name] = model

        def step(m=model, o=optim, b=batch):
            with context():
                return m.train_step(clone_batch(b), o)
        steps[name] = step
    return steps, models


def bench_train(args, device: str) -> Dict[str, dict]:
    steps, models = make_train_steps(args, device)
    times = time_interleaved(steps, device, args.warmup, args.iters,
                             args.clock)
    ref = _ms(times[RGB_CASE])
    cuda = device.startswith('cuda')
    out = {}
    for name, fn in steps.items():
        med = _ms(times[name])
        flops = count_flops(fn)
        out[name] = dict(
            ms=med, median_ms=_median_ms(times[name]),
            ratio_to_rgb=med / ref,
            params_m=sum(p.numel() for p in models[name].parameters()) / 1e6,
            peak_mem_mb=peak_memory_mb(fn, device),
            flop_per_step=flops, flop_per_s=flops / (med / 1000.0),
            gpu_busy=gpu_busy_fraction(fn) if cuda else None,
            syncs_per_step=count_syncs(fn) if cuda else None)
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
    out = {}
    for name in args.eval:
        model = build_model(args.cases[name](args), device).eval()
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
            times = time_interleaved(timed, device, args.warmup, args.iters,
                                     args.clock)
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
            median_ms={k: _median_ms(times[k]) for k in variants},
            ratio_shared=ratio_shared,
            ratio_separate=ms['separate'] / ms['full'],
            floor_ratio=floor_ratio,
            shared_over_floor=ratio_shared / floor_ratio,
            flops_g={k: v / 1e9 for k, v in flops.items()},
            gflops_per_image={k: v / 1e9 / args.batch_size
                              for k, v in flops.items()},
            flop_ratio_shared=flops['shared'] / flops['full'],
            flop_ratio_separate=flops['separate'] / flops['full'],
            flop_floor_ratio=flop_all / flop_full,
            peak_mem_mb=mem)
    return out


def count_eval_flops(args, device: str) -> Dict[str, dict]:
    """FLOPs only (``--flops-only``): per image, of the every-combination
    variants and the floor parts, no timing (feasible at 480 x 640 on a
    CPU)."""
    from mm_incomplete.evaluation.predict import predict_every_combination
    out = {}
    for name in args.eval:
        model = build_model(args.cases[name](args), device).eval()
        layout = model.layout
        combos, full = layout.combinations(), layout.full
        full_name = layout.combination_name(full)
        batch = make_batch(model, args, seed=1)
        with torch.no_grad():
            variants = {
                key: count_flops(lambda cs=cs, reuse=reuse:
                                 predict_every_combination(
                                     model, clone_batch(batch), layout, cs,
                                     reuse=reuse))
                for key, cs, reuse in (('full', [full], True),
                                       ('shared', combos, True),
                                       ('separate', combos, False))}
            parts = {k: count_flops(v) for k, v in
                     _floor_parts(model, batch, combos).items()}
        shared = sum(v for k, v in parts.items() if not k.startswith('tail:'))
        per_image = 1e9 * args.batch_size
        out[name] = dict(
            gflops_per_image={k: v / per_image for k, v in variants.items()},
            part_gflops_per_image={k: v / per_image
                                   for k, v in parts.items()},
            flop_ratio_shared=variants['shared'] / variants['full'],
            flop_ratio_separate=variants['separate'] / variants['full'],
            flop_floor_ratio=sum(parts.values()) /
            (shared + parts[f'tail:{full_name}']))
    return out


# -- report ------------------------------------------------------------------
def format_flops_report(result: dict) -> str:
    s = result['settings']
    lines = []
    for device, res in result['devices'].items():
        lines.append(f'== {device}: FLOPs per image, {s["size"][0]}x'
                     f'{s["size"][1]} (every-combination evaluation) ==')
        lines.append(f'{"case":<28}{"full":>9}{"shared":>9}{"separate":>10}'
                     f'{"x shared":>9}{"x floor":>9}{"x sep":>7}')
        for name, r in res['flops'].items():
            g = r['gflops_per_image']
            lines.append(f'{name:<28}{g["full"]:>9.1f}{g["shared"]:>9.1f}'
                         f'{g["separate"]:>10.1f}'
                         f'{r["flop_ratio_shared"]:>9.2f}'
                         f'{r["flop_floor_ratio"]:>9.2f}'
                         f'{r["flop_ratio_separate"]:>7.2f}')
            lines.append(f'{"":<28}parts: ' + ', '.join(
                f'{k} {v:.1f}' for k, v in
                r['part_gflops_per_image'].items()))
    return '\n'.join(lines)


def format_report(result: dict) -> str:
    lines = []
    for device, res in result['devices'].items():
        lines.append(f'== {device}: train step (forward + backward + SGD), '
                     f'B={result["settings"]["batch_size"]}, '
                     f'{result["settings"]["size"][0]}x'
                     f'{result["settings"]["size"][1]} ==')
        lines.append(f'{"case":<24}{"ms":>10}{"x rgb":>8}{"params M":>10}'
                     f'{"peak MiB":>10}{"GFLOP":>10}{"TFLOP/s":>9}'
                     f'{"busy":>6}{"syncs":>6}')
        for name, r in res['train_step'].items():
            busy = '-' if r['gpu_busy'] is None else f'{r["gpu_busy"]:.2f}'
            syncs = '-' if r['syncs_per_step'] is None else \
                str(r['syncs_per_step'])
            lines.append(f'{name:<24}{r["ms"]:>10.1f}'
                         f'{r["ratio_to_rgb"]:>8.2f}{r["params_m"]:>10.2f}'
                         f'{r["peak_mem_mb"]:>10.1f}'
                         f'{r["flop_per_step"] / 1e9:>10.2f}'
                         f'{r["flop_per_s"] / 1e12:>9.3f}'
                         f'{busy:>6}{syncs:>6}')
        lines.append(f'== {device}: evaluate one batch under every '
                     'combination (ratios to the full combination alone) ==')
        lines.append(f'{"case":<24}{"full ms":>9}{"shared":>8}{"separate":>9}'
                     f'{"floor":>7}{"shr/flr":>8}{"flop shr":>9}'
                     f'{"flop flr":>9}{"flop sep":>9}{"GFLOP/img":>10}')
        for name, r in res['eval'].items():
            lines.append(
                f'{name:<24}{r["full_ms"]:>9.1f}{r["ratio_shared"]:>8.2f}'
                f'{r["ratio_separate"]:>9.2f}{r["floor_ratio"]:>7.2f}'
                f'{r["shared_over_floor"]:>8.2f}'
                f'{r["flop_ratio_shared"]:>9.2f}{r["flop_floor_ratio"]:>9.2f}'
                f'{r["flop_ratio_separate"]:>9.2f}'
                f'{r["gflops_per_image"]["full"]:>10.1f}')
            lines.append(f'{"":<24}peak MiB: ' + ', '.join(
                f'{k} {v:.1f}' for k, v in r['peak_mem_mb'].items()))
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--size', type=int, nargs=2, default=[240, 320],
                   metavar=('H', 'W'), help='input size (default 240 320)')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--preset', choices=sorted(PRESETS), default='synthetic',
                   help='baseline configs: synthetic (*_synthetic_seg_cpu, '
                   'default) or nyud (*_nyud_rgbd, the papers\' ResNet-50)')
    p.add_argument('--case', action='append', default=[],
                   metavar='NAME=CONFIG',
                   help='add (or replace) a train-step case: the `model` of '
                   'CONFIG (a path or a shipped config such as '
                   'dmrnet/synthetic_seg_cpu.py)')
    p.add_argument('--eval', nargs='+', default=None, metavar='NAME',
                   help='cases whose every-combination evaluation is '
                   f'measured (default: {" ".join(EVAL_CASES)})')
    p.add_argument('--iters', type=int, default=10, help='timed repeats')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--devices', nargs='+', default=None,
                   help='default: cpu, plus cuda when available')
    p.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                   help='CPU timings: wall time, or process CPU time (use '
                   'with --threads 1 on a machine shared with other jobs)')
    p.add_argument('--threads', type=int,
                   help='torch CPU threads (1 avoids OpenMP busy-waiting '
                   'slowdowns on a machine shared with other jobs)')
    p.add_argument('--quick', action='store_true',
                   help='for tests: 64x64 (the synthetic configs\' size), '
                   'B=2, 1 repeat, no warm-up, 1 thread')
    p.add_argument('--flops-only', action='store_true',
                   help='count the FLOPs per image of the every-combination '
                   'evaluation and its floor (no timing, no training step)')
    p.add_argument('--amp', action='store_true',
                   help='train steps under autocast: bf16 (fp16 + loss '
                   'scaling on a GPU without bf16)')
    p.add_argument('--channels-last', action='store_true',
                   help='models in channels_last memory format')
    p.add_argument('--out', default=DEFAULT_OUT, help='JSON output path')
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.batch_size = [64, 64], 2
        args.iters, args.warmup = 1, 0
        args.threads = args.threads or 1
    args.cases = dict(TRAIN_CASES)
    extra = PRESET_EXTRA_CASES.get(args.preset, {})
    for name, path in extra.items():
        args.cases[name] = from_config(path)
    for spec in args.case:
        name, sep, path = spec.partition('=')
        if not sep or not name or not path:
            p.error(f'--case {spec!r}: expected NAME=CONFIG')
        load_model_cfg(path, args)  # fails early, naming the file
        args.cases[name] = from_config(path)
    args.eval = args.eval or list(EVAL_CASES) + list(extra)
    unknown = [n for n in args.eval if n not in args.cases]
    if unknown:
        p.error(f'--eval: unknown cases {unknown}; known: '
                f'{list(args.cases)}')
    if args.batch_size < (1 if args.flops_only else 2):
        p.error('--batch-size must be >= 2 (BatchNorm in training; 1 is '
                'allowed with --flops-only)')
    if min(args.size) < 32:
        p.error('--size must be at least 32x32 (ResNet output stride 32)')
    if args.iters < 1 or args.warmup < 0:
        p.error('--iters must be >= 1 and --warmup >= 0')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    import mm_incomplete  # noqa: F401  registers the models
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args) -> dict:
    devices = args.devices or (['cpu', 'cuda'] if torch.cuda.is_available()
                               else ['cpu'])
    for d in devices:
        if d.startswith('cuda') and not torch.cuda.is_available():
            raise SystemExit(f'--devices {d}: CUDA is not available here')
    result = dict(
        settings=dict(size=list(args.size), batch_size=args.batch_size,
                      iters=args.iters, warmup=args.warmup,
                      clock=args.clock,
                      preset=args.preset,
                      amp=args.amp, channels_last=args.channels_last,
                      cases={n: getattr(f, 'config', None)
                             for n, f in args.cases.items()},
                      eval_cases=list(args.eval),
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
        if args.flops_only:
            result['devices'][device] = dict(
                flops=count_eval_flops(args, device))
        else:
            result['devices'][device] = dict(
                train_step=bench_train(args, device),
                eval=bench_eval(args, device))
    print(format_flops_report(result) if args.flops_only
          else format_report(result))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(f'wrote {args.out}')
    return result


if __name__ == '__main__':
    main()
