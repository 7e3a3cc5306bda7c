"""ImageNet initialisation of the branches of a multi-branch backbone.

Shorthand: M modalities, C_m input channels of modality m, O output
channels of the first convolution, k its kernel size.

The incomplete-RGB-D papers start every encoder branch from the same
ImageNet ResNet (ESANet's code base): the RGB branch loads it as is, a
branch with another number of input channels gets the first convolution's
(O, 3, k, k) weights reduced over the RGB input channels to (O, 1, k, k)
(ESANet sums them for depth: ``torch.sum(weights['conv1.weight'], dim=1,
keepdim=True)``, ``src/models/resnet.py``), and 3-channel modalities such
as HHA load as is. Everything else must match exactly; any missing,
unexpected or mis-shaped key is an error that names the key and the file
(``mmengine``'s ``strict=False`` loading would only warn).

Checkpoint formats (loaded with ``mmengine``'s ``CheckpointLoader``, so
``torchvision://resnet50``, ``open-mmlab://...``, ``https://...`` and local
paths all work):

- torchvision: a plain state dict, ``conv1.weight``, ``bn1.*``,
  ``layer1.0.conv1.weight`` ..., ``fc.*`` (dropped);
- OpenMMLab (mmpretrain / mmcls ImageNet classifiers): ``{'state_dict':
  {'backbone.conv1.weight', ..., 'head.fc.*'}, 'meta': ...}``; the
  ``backbone.`` keys are used, ``head.`` / ``neck.`` keys dropped.

Use it through the backbone's ``init_cfg``::

    backbone=dict(type='MultiBranchResNet', ...,
                  init_cfg=dict(type='PretrainedBranches',
                                checkpoint='torchvision://resnet50'))
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule, initialize
from mmengine.registry import WEIGHT_INITIALIZERS

#: prefixes of classifier parts that a backbone does not have
CLASSIFIER_PREFIXES = ('fc.', 'head.', 'neck.', 'data_preprocessor.')
#: ways to turn the first conv's RGB weights into one input channel
REDUCE = ('sum', 'mean')


def branch_state_dict(checkpoint: dict, source: str) -> Dict[str, torch.Tensor]:
    """The backbone weights of a torchvision or OpenMMLab checkpoint.

    Args:
        checkpoint (dict): what ``torch.load`` returned.
        source (str): the file name, for error messages.

    Returns:
        dict[str, Tensor]: keys as in torchvision's ResNet
        (``conv1.weight``, ``layer1.0.bn1.running_mean``, ...), classifier
        keys removed.
    """
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{source}: expected a state dict or a dict with '
                        f"'state_dict', got {type(checkpoint).__name__}")
    state = checkpoint.get('state_dict', checkpoint)
    state = {(k[7:] if k.startswith('module.') else k): v
             for k, v in state.items()}
    if any(k.startswith('backbone.') for k in state):
        state = {k[9:]: v for k, v in state.items()
                 if k.startswith('backbone.')}
    return {k: v for k, v in state.items()
            if not k.startswith(CLASSIFIER_PREFIXES)}


def first_conv_key(branch: nn.Module) -> str:
    """The state-dict key of a ResNet branch's first convolution."""
    return 'stem.0.weight' if getattr(branch, 'deep_stem', False) \
        else 'conv1.weight'


def adapt_first_conv(weight: torch.Tensor, channels: Sequence[int],
                     reduce: str = 'sum', name: str = 'branch'
                     ) -> torch.Tensor:
    """(O, 3, k, k) ImageNet weights for a first conv on stacked modalities.

    Each modality's input channels get: the RGB weights unchanged if it has
    3 channels (RGB, HHA); the RGB weights summed (ESANet) or averaged over
    the input channels if it has 1 (depth). Other counts are an error. A
    multi-branch backbone's branch has one modality, an early-fusion
    encoder all of them (``[3, 1]``: (O, 4, k, k)).

    Example:
        >>> w = torch.ones(2, 3, 1, 1)
        >>> adapt_first_conv(w, [1]).flatten().tolist()
        [3.0, 3.0]
        >>> adapt_first_conv(w, [3, 1], reduce='mean').shape
        torch.Size([2, 4, 1, 1])
    """
    if reduce not in REDUCE:
        raise ValueError(f'`reduce` must be one of {REDUCE}, got {reduce!r}')
    if weight.dim() != 4 or weight.shape[1] != 3:
        raise ValueError(f'{name}: the checkpoint\'s first conv has shape '
                         f'{tuple(weight.shape)}, expected (O, 3, k, k)')
    parts = []
    for c in channels:
        if c == 3:
            parts.append(weight)
        elif c == 1:
            parts.append(getattr(weight, reduce)(dim=1, keepdim=True))
        else:
            raise ValueError(
                f'{name}: no ImageNet initialisation rule for a modality '
                f'with {c} input channels (3: as is, 1: reduced over RGB); '
                'leave it out of `modalities`')
    return torch.cat(parts, dim=1)


def load_branch(branch: nn.Module, state: Dict[str, torch.Tensor],
                channels: Sequence[int], reduce: str, name: str,
                source: str) -> None:
    """Copy ``state`` into one ResNet encoder whose input stacks modalities
    of ``channels`` input channels, adapting its first conv.

    Raises:
        KeyError: a branch key is absent from the checkpoint, or the
            checkpoint has backbone keys the branch lacks.
        ValueError: a shape differs (other than the first conv's input
            channels).
    """
    state = dict(state)
    conv_key = first_conv_key(branch)
    if conv_key not in state:
        raise KeyError(f'{source}: no {conv_key!r} for the {name!r} branch '
                       f'(keys start with {sorted(state)[:3]})')
    state[conv_key] = adapt_first_conv(state[conv_key], channels, reduce,
                                       f'{source} -> {name}')
    own = branch.state_dict()
    # BN step counters are absent from older torchvision files
    missing = [k for k in own if k not in state
               and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise KeyError(
            f'{source} does not fit the {name!r} branch: missing '
            f'{missing[:5]}{" ..." if len(missing) > 5 else ""} '
            f'({len(missing)}), unexpected {unexpected[:5]}'
            f'{" ..." if len(unexpected) > 5 else ""} ({len(unexpected)})')
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise ValueError(
                f'{source}: {key!r} has shape {tuple(value.shape)}, the '
                f'{name!r} branch needs {tuple(own[key].shape)}')
    branch.load_state_dict(
        {k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)


@WEIGHT_INITIALIZERS.register_module(name='PretrainedBranches')
class PretrainedBranchesInit:
    """Initialise the encoders of a multi-modal backbone from one ImageNet
    ResNet checkpoint (torchvision or OpenMMLab format).

    A backbone with ``branches`` (name -> mmseg ``ResNet``, e.g.
    ``MultiBranchResNet``) loads it into each branch; one without (an
    mmseg ``ResNet`` on stacked modalities, ``EarlyFusionResNet``) into
    itself, its first conv stacked per modality. Either must have a
    ``layout`` (the modalities' channel counts).

    Args:
        checkpoint (str): file or URL (``torchvision://resnet50``,
            ``/data/resnet50-0676ba61.pth``, ...).
        modalities (Sequence[str], optional): the branches to initialise;
            default all (a single encoder is always initialised whole).
        reduce (str): how a one-channel branch's first conv is made from the
            RGB weights: ``'sum'`` (ESANet, default) or ``'mean'``.
        map_location (str): ``torch.load``'s map location.

    Example:
        >>> import tempfile, os.path as osp
        >>> from mm_incomplete.models import MultiBranchResNet
        >>> from mmseg.models.backbones import ResNet
        >>> ckpt = osp.join(tempfile.mkdtemp(), 'r18.pth')
        >>> rgb = ResNet(18, base_channels=8, stem_channels=8)
        >>> torch.save(rgb.state_dict(), ckpt)
        >>> bb = MultiBranchResNet(dict(rgb=3, depth=1), depth=18,
        ...                        base_channels=8, init_cfg=dict(
        ...                            type='PretrainedBranches',
        ...                            checkpoint=ckpt))
        >>> bb.init_weights()
        >>> torch.equal(bb.branches['depth'].conv1.weight,
        ...             rgb.conv1.weight.sum(1, keepdim=True))
        True
    """

    def __init__(self, checkpoint: str,
                 modalities: Optional[Sequence[str]] = None,
                 reduce: str = 'sum', map_location: str = 'cpu'):
        if reduce not in REDUCE:
            raise ValueError(f'PretrainedBranches.reduce must be one of '
                             f'{REDUCE}, got {reduce!r}')
        self.checkpoint = checkpoint
        self.modalities = None if modalities is None else list(modalities)
        self.reduce = reduce
        self.map_location = map_location

    def __call__(self, module: nn.Module) -> None:
        from mmengine.runner.checkpoint import CheckpointLoader
        layout = getattr(module, 'layout', None)
        if layout is None:
            raise TypeError('PretrainedBranches initialises a multi-modal '
                            'backbone (with a modality `layout`), got '
                            f'{type(module).__name__}')
        channels = dict(zip(layout.names, layout.channels))
        branches = getattr(module, 'branches', None)
        if branches is not None:
            names = self.modalities or list(branches.keys())
            unknown = [n for n in names if n not in branches]
            if unknown:
                raise ValueError(f'PretrainedBranches.modalities {unknown} '
                                 'are not branches of '
                                 f'{list(branches.keys())}')
            targets = [(n, branches[n], [channels[n]]) for n in names]
        else:
            targets = [('+'.join(layout.names), module,
                        list(layout.channels))]
        ckpt = CheckpointLoader.load_checkpoint(
            self.checkpoint, map_location=self.map_location)
        state = branch_state_dict(ckpt, self.checkpoint)
        for name, encoder, chans in targets:
            load_branch(encoder, state, chans, self.reduce, name,
                        self.checkpoint)
        print_log(f'PretrainedBranches: {[t[0] for t in targets]} '
                  f'initialised from {self.checkpoint}', logger='current')

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load from {self.checkpoint}'


def init_weights_with_deferred(module: BaseModule,
                               deferred: Sequence[str] = (
                                   'PretrainedBranches', )) -> None:
    """``BaseModule.init_weights`` with the ``deferred`` initialiser types
    applied last, after the children's own initialisation (which would
    otherwise overwrite the loaded weights; mmengine defers only its own
    ``Pretrained`` type this way). Call it from the module's
    ``init_weights``."""
    cfgs = module.init_cfg
    cfgs = [] if cfgs is None else \
        list(cfgs) if isinstance(cfgs, (list, tuple)) else [cfgs]
    late = [c for c in cfgs if c.get('type') in deferred]
    if not late:
        BaseModule.init_weights(module)
        return
    module.init_cfg = [c for c in cfgs if c.get('type') not in deferred] \
        or None
    try:
        BaseModule.init_weights(module)
    finally:
        module.init_cfg = cfgs
    initialize(module, late)
