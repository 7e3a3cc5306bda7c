"""What the multi-modal segmentor and classifier share: the mask, the
features of one or many combinations, the forward record, the loss assembly
and the every-combination prediction.

Shorthand: B batch, M modalities, C stacked channels, K classes,
N combinations.

The two task models differ only in how their head turns features into
logits, a loss and predictions; everything else is written here once:

    mask (host, B x M) from the data samples   -> batch_masks
    features under one mask -> ForwardRecord    -> forward_record
    task loss + every method loss               -> loss / add_method_losses
    logits under N masks, encoders run once     -> logits_for_masks
    {combination: samples}                      -> predict_combinations
    modules frozen at an earlier stage's ckpt   -> frozen_modules, stage1_ckpt

**The mask on the host.** The data preprocessor draws the (B, M) mask on the
CPU and writes its rows to the data samples there. The model keeps that host
copy for every decision that depends on the mask (which branch runs, which
rows, which samples a regularizer keeps) and moves it to the device once per
step, without waiting (``non_blocking``): the training step reads nothing
back from the accelerator for its mask handling, combination selection or
loss assembly.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import ModuleDict
from mmengine.registry import MODELS as ROOT_MODELS

from mm_incomplete.modality import (ModalityLayout, set_modality_masks,
                                    stack_modality_masks)
from ..late_fusion import LateFusionHead
from ..methods.base import BaseMethodLoss
from ..methods.record import ForwardRecord
from .staged_training import (freeze_module, get_submodule,
                               load_frozen_modules, module_prefixes)


def build_method_losses(cfgs, option: str = 'method_losses') -> ModuleDict:
    """Build method losses from a list or a ``{name: config}`` dict.

    A dict names them (``method_losses.hard_combination`` in checkpoints,
    hooks and error messages) and lets a child config change one entry by
    mmengine's dict merge (``method_losses=dict(hard_combination=dict(
    combinations=['depth']))``); a list names them ``'0'``, ``'1'``, ...
    Either way they run in the given order.

    Returns:
        ModuleDict: ``{name: BaseMethodLoss}``.
    """
    if cfgs is None:
        cfgs = {}
    elif isinstance(cfgs, (list, tuple)):
        cfgs = {str(i): c for i, c in enumerate(cfgs)}
    elif not isinstance(cfgs, dict):
        raise TypeError(f'`{option}` must be a list or a dict of configs, '
                        f'got {cfgs!r}')
    modules = {}
    for name, cfg in cfgs.items():
        if not isinstance(name, str) or not name or '.' in name:
            raise ValueError(f'`{option}` names must be non-empty strings '
                             f'without dots, got {name!r}')
        module = ROOT_MODELS.build(cfg) if isinstance(cfg, dict) else cfg
        if not isinstance(module, BaseMethodLoss):
            raise TypeError(
                f'{option}.{name} must be a BaseMethodLoss, got '
                f'{type(module).__name__} (from {cfg!r})')
        modules[name] = module
    return ModuleDict(modules)


def check_optimizer_trainable(model, optim_wrapper) -> None:
    """Every parameter in the optimizer requires a gradient: frozen
    modules are out of it, not merely without gradients (mmengine's default
    constructor puts every parameter in)."""
    frozen = {id(p): n for n, p in model.named_parameters()
              if not p.requires_grad}
    wrappers = getattr(optim_wrapper, 'optim_wrappers', None)
    wrappers = wrappers.values() if wrappers else [optim_wrapper]
    inside = [frozen[id(p)] for w in wrappers
              for g in w.optimizer.param_groups for p in g['params']
              if id(p) in frozen]
    if inside:
        raise ValueError(
            f'the optimizer holds {len(inside)} frozen parameters (e.g. '
            f'{inside[:3]}); build it with optim_wrapper=dict(constructor='
            "'TrainableParamsOptimWrapperConstructor', ...)")


class MultiModalModelMixin:
    """Shared machinery of the multi-modal task models.

    The host class (mmseg ``EncoderDecoder``, mmpretrain ``ImageClassifier``)
    builds ``backbone``, ``neck``, its head and ``data_preprocessor``; after
    its ``__init__`` call :meth:`init_multi_modal` with the
    ``method_losses`` configs. Subclasses set ``task`` and implement
    :meth:`_head_logits`, :meth:`_task_losses` and :meth:`_to_samples`.
    """

    task: str = ''

    # -- construction ---------------------------------------------------------
    def init_multi_modal(self, method_losses: Optional[Sequence] = None,
                         frozen_modules: Optional[Sequence[str]] = None,
                         stage1_ckpt: Optional[str] = None,
                         layout_source: Optional[Tuple] = None) -> None:
        """Check the layouts, set up late fusion, build the method losses,
        freeze the modules of an earlier training stage.

        Args:
            method_losses (list[dict] | dict[str, dict], optional):
                :class:`BaseMethodLoss` configs (mmengine root ``MODELS``),
                applied in this order to the record of every training step;
                see :func:`build_method_losses`. Their layouts are filled in
                already (:func:`fill_model_layout`).
            frozen_modules (list[str], optional): dotted paths of modules
                trained in an earlier stage (e.g. ``['backbone',
                'head.heads']``): no gradients, always in eval mode
                (:func:`freeze_module`); loaded from ``stage1_ckpt`` by
                :meth:`init_weights`.
            stage1_ckpt (str, optional): the earlier stage's checkpoint;
                needs ``frozen_modules``.
            layout_source (tuple, optional): ``(layout, where)``, where the
                model's layout was declared, from :func:`fill_model_layout`
                (``None``: the backbone's).
        """
        #: the config key the layout was declared at (error messages, a
        #: distiller's teacher)
        self.layout_source = 'backbone.layout' if layout_source is None \
            else layout_source[1]
        self.check_modality_layouts()
        head = self.task_head
        self.late_fusion = isinstance(head, LateFusionHead)
        if self.late_fusion:
            if not getattr(self.backbone, 'encoder_is_mask_independent',
                           False):
                raise ValueError(
                    f'{type(self).__name__}: late fusion (LateFusionHead) '
                    'needs a backbone with per-modality encoders '
                    '(encode/fuse, e.g. MultiBranchResNet with '
                    f'feedback=None); got {type(self.backbone).__name__}')
            if head.layout != self.layout:
                raise ValueError(
                    f'LateFusionHead.modalities {head.layout!r} != '
                    f'{self.layout_source} {self.layout!r}')
            if head.task != self.task:
                raise ValueError(f'LateFusionHead holds {head.task} heads; '
                                 f'{type(self).__name__} needs {self.task}')
            if getattr(self, 'with_auxiliary_head', False):
                raise ValueError(
                    f'{type(self).__name__}: an auxiliary_head needs fused '
                    'features, which late fusion does not compute')
        self.method_losses = build_method_losses(method_losses,
                                                 'method_losses')
        self.frozen_modules = list(frozen_modules or [])
        self.stage1_ckpt = stage1_ckpt
        if stage1_ckpt is not None and not self.frozen_modules:
            raise ValueError('`stage1_ckpt` is given but `frozen_modules` is '
                             'empty: name the modules to load from it')
        for path in self.frozen_modules:
            freeze_module(get_submodule(self, path, 'frozen_modules'))

    # -- an earlier stage's frozen modules ------------------------------------
    def init_weights(self) -> None:
        """Initialise as configured, then load the frozen modules from
        ``stage1_ckpt`` (mmengine's runner calls this before training, not
        before testing: a later stage's own checkpoint holds them)."""
        super().init_weights()
        if self.frozen_modules and self.stage1_ckpt is not None:
            skipped = load_frozen_modules(self, self.stage1_ckpt,
                                          self.frozen_modules, 'stage1_ckpt')
            from mmengine.logging import print_log
            print_log(f'stage1_ckpt: {self.frozen_modules} loaded from '
                      f'{self.stage1_ckpt}; not loaded: {len(skipped)} keys '
                      f'under [{module_prefixes(skipped)}]',
                      logger='current')

    def train_step(self, data, optim_wrapper):
        """mmengine's ``train_step``; with frozen modules, first checks that
        the optimizer holds none of their parameters."""
        if self.frozen_modules and not getattr(self, '_optim_checked', False):
            check_optimizer_trainable(self, optim_wrapper)
            self._optim_checked = True
        return super().train_step(data, optim_wrapper)

    def check_modality_layouts(self) -> None:
        """The backbone has a layout, and the preprocessor's agrees."""
        if not isinstance(getattr(self.backbone, 'layout', None),
                          ModalityLayout):
            raise TypeError(
                f'{type(self).__name__} needs a multi-modal backbone with a '
                f'`layout` (e.g. MultiBranchResNet); got '
                f'{type(self.backbone).__name__}')
        pre_layout = getattr(self.data_preprocessor, 'layout', None)
        if pre_layout is not None and pre_layout != self.layout:
            raise ValueError(
                f'data_preprocessor.layout {pre_layout!r} != backbone.layout '
                f'{self.layout!r}')

    @property
    def layout(self) -> ModalityLayout:
        """The modality layout of the backbone."""
        return self.backbone.layout

    @property
    def task_head(self):
        """The task head (``decode_head`` / ``head``)."""
        raise NotImplementedError

    # -- the mask -------------------------------------------------------------
    def _mask_of(self, inputs: torch.Tensor, data_samples) -> torch.Tensor:
        """(B, M) bool mask of the batch on the host, from the samples (full
        where a sample has none)."""
        return stack_modality_masks(data_samples, inputs.shape[0],
                                    len(self.layout), 'cpu')

    def batch_masks(self, inputs: torch.Tensor, data_samples
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The batch's (B, M) mask on the inputs' device and on the host.

        Rows the data preprocessor wrote are on the host already; a row on
        the device (a sample masked by hand) is copied to the host here.
        """
        host = self._mask_of(inputs, data_samples)
        return host.to(inputs.device, non_blocking=True), host

    # -- features -------------------------------------------------------------
    def _neck(self, x) -> Tuple[Sequence[torch.Tensor], dict]:
        """Neck output and what the neck records (``forward_record``)."""
        if not self.with_neck:
            return x, {}
        forward_record = getattr(self.neck, 'forward_record', None)
        if forward_record is not None:
            return forward_record(x)
        return self.neck(x), {}

    def _modal_heads(self, modal_feats, record_extras=None,
                     host_mask: Optional[torch.Tensor] = None):
        """Late fusion: ``{modality: logits}`` (see :meth:`_late_logits`)."""
        return self._late_logits(modal_feats, record_extras, host_mask)[0]

    def _late_logits(self, modal_feats, record_extras=None,
                     host_mask: Optional[torch.Tensor] = None):
        """Late fusion: ``({modality: logits}, fusion logits or None)``, the
        neck and each modality's head run once, the fusion head (if the
        head has one) once on the concatenated neck features.

        With ``host_mask`` (training) a modality's neck and head run only on
        the samples where it is present (their BatchNorm statistics come
        from real features, as the branches'), the fusion head only on the
        samples where every modality is present; logits are zero for the
        other samples, which the decision rule weighs 0. Which rows is read
        from the host mask: no synchronisation.
        """
        feats, rows = {}, {}
        batch = next(iter(modal_feats.values()))[0].shape[0]
        for name, f in modal_feats.items():
            f = tuple(f)
            if host_mask is not None:
                col = host_mask[:, self.layout.index(name)]
                index = col.nonzero().flatten()
                if index.numel() < batch:
                    if index.numel() == 1 and self.training:
                        # BatchNorm needs two values per channel: run the
                        # sample twice, keep one
                        index = index.repeat(2)
                    rows[name] = index
                    dev = index.to(f[0].device, non_blocking=True)
                    f = tuple(x.index_select(0, dev) for x in f)
            feats[name], extras = self._neck(f)
            if record_extras is not None:
                for key, value in extras.items():
                    record_extras.setdefault(key, {})[name] = value
        logits = self.task_head.forward_modal(feats)
        fusion = self._fusion_logits(feats, rows, host_mask, batch)
        for name, index in rows.items():
            logits[name] = self._scatter_rows(logits[name], index, batch)
        return logits, fusion

    @staticmethod
    def _scatter_rows(out: torch.Tensor, index: torch.Tensor,
                      batch: int) -> torch.Tensor:
        """(B, ...) zeros with the rows ``index`` (host; a single row run
        twice for BatchNorm counts once) set to ``out``."""
        if len(index) == 2 and index[0] == index[1]:
            index, out = index[:1], out[:1]
        full = out.new_zeros((batch, ) + tuple(out.shape[1:]))
        return full.index_copy(0, index.to(out.device, non_blocking=True),
                               out)

    def _fusion_logits(self, feats, rows, host_mask, batch):
        """The fusion head's (B, K, ...) logits, or ``None`` (no fusion
        head, a modality not computed, or no sample with every modality).

        ``feats`` are each modality's neck outputs on its ``rows`` (all
        samples where a modality has none)."""
        head = self.task_head
        if getattr(head, 'fusion_head', None) is None or \
                set(feats) != set(self.layout.names):
            return None
        if host_mask is None:
            return head.forward_fusion(feats)
        every = host_mask.all(1).nonzero().flatten()
        if every.numel() == 0:
            return None
        if every.numel() == batch:
            return head.forward_fusion(feats)
        if every.numel() == 1 and self.training:
            every = every.repeat(2)  # BatchNorm: two values per channel
        picked = {}
        for name, f in feats.items():
            # positions of the samples with every modality among this
            # modality's rows (sorted: ``nonzero``)
            pos = torch.searchsorted(rows[name], every) \
                if name in rows else every
            dev = pos.to(f[0].device, non_blocking=True)
            picked[name] = tuple(x.index_select(0, dev) for x in f)
        return self._scatter_rows(head.forward_fusion(picked), every, batch)

    def forward_record(self, inputs: torch.Tensor,
                       data_samples) -> ForwardRecord:
        """Run the model once on a training batch and record it.

        Args:
            inputs (Tensor): (B, C, H, W) preprocessed stacked modalities.
            data_samples (list): samples carrying ``modality_mask`` rows.

        Returns:
            ForwardRecord: per-modality features (where the backbone has
            ``encode``), fused and neck features, head logits, extras.
        """
        mask, host = self.batch_masks(inputs, data_samples)
        record = ForwardRecord(task=self.task, layout=self.layout, mask=mask,
                               host_mask=host, inputs=inputs,
                               data_samples=data_samples)
        backbone = self.backbone
        if self.late_fusion:
            record.modal_feats = backbone.encode(inputs, host)
            record.modal_logits, record.fusion_logits = self._late_logits(
                record.modal_feats, record.extras, host)
            # the host mask: the decision checks it there and moves the
            # presence weights to the device without waiting
            record.head_logits = self.task_head.decide(
                record.modal_logits, host,
                fusion_logits=record.fusion_logits)
            return record
        if getattr(backbone, 'encoder_is_mask_independent', False):
            # one pass through ``backbone(...)`` (its forward hooks fire, e.g.
            # a distiller's recorders) that also hands out what ``encode``
            # computed
            record.modal_feats = {}
            record.fused_feats = backbone(inputs, host,
                                          modal_feats=record.modal_feats)
            extras = getattr(backbone, 'forward_extras', None)
            if extras is not None:  # what the backbone's pass recorded
                record.extras.update(extras())
            feats = record.modal_feats

            def logits_under(mask: torch.Tensor) -> torch.Tensor:
                return self._head_logits(
                    self._neck(backbone.fuse(feats, mask))[0])

            record.logits_under = logits_under
        else:
            record.fused_feats = backbone(inputs, host)
        record.neck_feats, extras = self._neck(record.fused_feats)
        record.extras.update(extras)
        record.head_logits = self._head_logits(record.neck_feats,
                                               for_loss=True)
        return record

    def logits_for_masks(self, inputs: torch.Tensor,
                         masks: Sequence[torch.Tensor]
                         ) -> List[torch.Tensor]:
        """Head logits (before any resize) under each (B, M) host mask.

        What does not depend on the mask runs once: each modality's encoder
        (parallel-form backbones) and, for late fusion, each modality's neck
        and head; fusion, neck and head (early/mid fusion) or the decision
        rule (late fusion) run once per mask.
        """
        backbone = self.backbone
        shared = getattr(backbone, 'encoder_is_mask_independent', False)
        if self.late_fusion:
            union = torch.stack(list(masks)).any(0)
            modal_logits, fusion = self._late_logits(
                backbone.encode(inputs, union))
            # host masks: a fusion head that did not run where a mask has
            # every modality is an error there (LateFusionHead.decide)
            return [self.task_head.decide(modal_logits, m,
                                          fusion_logits=fusion)
                    for m in masks]
        if shared and len(masks) > 1:
            feats = backbone.encode(inputs, torch.stack(list(masks)).any(0))
            fused = [backbone.fuse(feats, m) for m in masks]
        else:
            fused = [backbone(inputs, m) for m in masks]
        return [self._head_logits(self._neck(x)[0]) for x in fused]

    # -- training -------------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        """Task losses and every method loss of a batch (B, C, H, W)."""
        record = self.forward_record(inputs, data_samples)
        return self.add_method_losses(self._task_losses(record), record)

    def add_method_losses(self, losses: dict, record: ForwardRecord,
                          methods=None, where: str = 'method_losses') -> dict:
        """Add each method loss's dict to ``losses``; a key given twice
        raises, naming both givers.

        Args:
            losses (dict): the losses so far (changed in place).
            record (ForwardRecord): the step's record.
            methods (list, optional): the method losses; default: this
                model's ``method_losses`` (a distiller passes its own).
            where (str): their config key, for error messages.
        """
        owners = {k: 'an earlier loss' for k in losses}
        methods = self.method_losses if methods is None else methods
        for name, method in methods.items():
            out = method(record)
            giver = f'{where}.{name} ({type(method).__name__})'
            if not isinstance(out, dict):
                raise TypeError(f'{giver} must return a dict of tensors, got '
                                f'{type(out).__name__}')
            for key, value in out.items():
                if key in owners:
                    raise KeyError(f'{giver} returns {key!r}, which '
                                   f'{owners[key]} gives too')
                owners[key] = giver
                losses[key] = value
        return losses

    # -- every-combination evaluation -----------------------------------------
    def predict_combinations(self, inputs: torch.Tensor, data_samples,
                             combinations=None) -> Dict[str, list]:
        """Predict every combination of one batch.

        Args:
            inputs (Tensor): (B, C, H, W) preprocessed stacked modalities;
                channels of any modality may be present, each combination
                masks its own.
            data_samples (list, optional): the batch's samples; they are
                not modified (``None``: new empty samples, classification).
            combinations (str | list | None): ``'all'``/``None`` (every
                combination), ``'rgb,depth'``, or a list of names / tuples.

        Returns:
            dict[str, list]: ``{combination_name: samples}`` in the order of
            ``combinations``; fresh copies of the samples with the
            combination's ``modality_mask`` and its predictions.
        """
        combos = self.layout.parse_combinations(combinations, 'combinations')
        batch = inputs.shape[0]
        masks = [self.layout.combination_mask(c).expand(batch, -1)
                 for c in combos]
        outputs = self._outputs_for_masks(inputs, data_samples, masks)
        out = {}
        for combo, mask, output in zip(combos, masks, outputs):
            samples = self._fresh_samples(data_samples, batch)
            set_modality_masks(samples, mask)
            out[self.layout.combination_name(combo)] = self._to_samples(
                output, samples)
        return out

    def _outputs_for_masks(self, inputs, data_samples, masks):
        """Per-mask outputs that :meth:`_to_samples` turns into samples."""
        return self.logits_for_masks(inputs, masks)

    @staticmethod
    def _fresh_samples(data_samples, batch: int) -> list:
        return [s.clone() for s in data_samples]

    # -- task-specific --------------------------------------------------------
    def _head_logits(self, feats, for_loss: bool = False):
        """The task head's logits of (neck) features."""
        raise NotImplementedError

    def _task_losses(self, record: ForwardRecord) -> dict:
        """The task head's losses from the record."""
        raise NotImplementedError

    def _to_samples(self, output, samples) -> list:
        """Predictions of ``output`` written into ``samples``."""
        raise NotImplementedError
