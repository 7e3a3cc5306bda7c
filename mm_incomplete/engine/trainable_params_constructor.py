"""An optimizer over the parameters that require a gradient, and no other.

Shorthand: P parameters of the model, P' of them trainable.

mmengine's ``DefaultOptimWrapperConstructor`` puts every parameter of the
model into the optimizer, frozen ones included (they then only lack a
gradient; weight decay or momentum of another optimizer could still move
them, and their state is saved). This constructor builds the same optimizer
wrapper over the P' parameters with ``requires_grad`` only (paramwise
options apply as usual), and refuses a model with none. A later training
stage with frozen modules (``frozen_modules`` of the task models, DI-MML's
stage 2) names it in its config::

    optim_wrapper = dict(constructor='TrainableParamsOptimWrapperConstructor',
                         optimizer=dict(type='SGD', lr=1e-3, momentum=0.9))
"""
import inspect
from typing import List

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                               OPTIMIZERS)

from mm_incomplete.models.utils.staged_training import module_prefixes


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableParamsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` over the trainable parameters.

    Args:
        optim_wrapper_cfg (dict): as mmengine's.
        paramwise_cfg (dict, optional): as mmengine's.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        >>> _ = model[0].requires_grad_(False)
        >>> wrapper = TrainableParamsOptimWrapperConstructor(
        ...     dict(optimizer=dict(type='SGD', lr=0.1)))(model)
        >>> [p is q for p, q in zip(
        ...     wrapper.optimizer.param_groups[0]['params'],
        ...     model[1].parameters())]
        [True, True]
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        named = list(model.named_parameters())
        trainable = [n for n, p in named if p.requires_grad]
        if not trainable:
            raise ValueError(
                f'TrainableParamsOptimWrapperConstructor: no parameter of '
                f'{type(model).__name__} requires a gradient')
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cls)
        # the optimizer's first argument takes the parameters (mmengine's
        # rule: some optimizers name it `model_params`)
        first = next(iter(inspect.signature(optimizer_cls).parameters))
        if not self.paramwise_cfg:
            params = [p for _, p in named if p.requires_grad]
        else:  # mmengine's per-parameter groups, the trainable ones
            groups: List[dict] = []
            self.add_params(groups, model)
            params = [g for g in groups if g['params'][0].requires_grad]
        optimizer_cfg[first] = params
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        print_log(f'optimizer: {len(trainable)} trainable parameter tensors '
                  f'({module_prefixes(trainable)}); '
                  f'{len(named) - len(trainable)} frozen left out',
                  logger='current')
        return OPTIM_WRAPPERS.build(wrapper_cfg,
                                    default_args=dict(optimizer=optimizer))
