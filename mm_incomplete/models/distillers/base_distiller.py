"""The teacher-student wrapper shared by every distillation method.

Shorthand: B batch, M modalities, C stacked channels, H x W input size.

A distiller holds a **student** (built from its config, trained, saved, and
used for every prediction) and a **teacher** (built from its config, loaded
from its checkpoint, frozen). The teacher is kept outside the module tree:
``parameters()``, ``state_dict()``, the optimizer, checkpoints,
``init_weights()`` and DDP never see it; ``.to()``/``.cuda()`` still move it
(:meth:`_apply`). It runs in eval mode under ``no_grad`` on its own
modality view of the batch (by default every modality, while the student
sees the masked batch its data preprocessor draws).

One training step (mmengine's ``train_step``, DDP's too)::

    x_s, samples_s, x_t, samples_t = data_preprocessor(batch, True)
                                      (:class:`TeacherViewPreprocessor`)
    student.loss(x_s, samples_s)      -> task losses (+ recorded outputs)
    teacher(x_t, samples_t, 'tensor') -> recorded outputs (no_grad)
    each distill loss(recorded inputs) -> ``loss_<name>``

Recorded outputs come from forward hooks on module paths named in the config
(:class:`FeatureRecorder`); each distillation loss names its inputs as
``'student.<recorder>'`` or ``'teacher.<recorder>'``.
"""
import copy
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.structures import BaseDataElement

from mm_incomplete.modality import set_modality_masks
from ..utils.model_layout import (MODEL_COMPONENTS, check_same_layout,
                                  fill_model_layout)
from ..utils.multi_modal_model import build_method_losses
from .feature_recorder import FeatureRecorder
from .teacher import freeze_teacher, load_teacher_checkpoint
from .teacher_view_preprocessor import TeacherViewPreprocessor


class BaseDistiller(BaseModel):
    """Teacher-student wrapper; subclasses choose the host registry.

    Args:
        student (dict): config of the student model (it carries the data
            preprocessor used for training and evaluation, and with it the
            modality layout of the distiller).
        teacher (dict): config of the teacher model. It sees the student's
            stacked inputs, so it gets the student's layout where it names
            none, and one that names another is an error naming both; the
            distiller's ``method_losses`` and ``aux_heads`` get it too.
        teacher_ckpt (str): checkpoint of the trained teacher, loaded
            strictly (missing file or mismatched keys raise).
        teacher_ckpt_prefix (str, optional): keep and strip only keys with
            this prefix (``'student.'`` takes a distiller's student).
        teacher_combination (str | list, optional): the modalities the
            teacher sees, e.g. ``'rgb+depth'``; ``None`` is every modality.
        student_recorders (dict, optional): ``{name: module_path}`` (or
            ``dict(path=..., index=i)``) recorded from the student.
        teacher_recorders (dict, optional): same, from the teacher.
        method_losses (list[dict] | dict, optional): :class:`BaseMethodLoss`
            configs applied to the student's :class:`ForwardRecord` of every
            training step, after the student's own method losses (e.g.
            MMANet's regularization network, a
            :class:`CombinationRegularizer` on the fused features). Training
            only: they are the distiller's, not the student's, so an
            exported student does not carry them.
        aux_heads (dict, optional): older form of the regularization
            network (prefer ``method_losses``): ``{name:
            dict(head=head_cfg, inputs='student.<recorder>')}``; each head
            (e.g. :class:`CombinationRegularizerSegHead`, which counts only
            the samples of selected combinations: MMANet's MAR) gets the
            recorded student features and the student's samples; its losses
            are logged as ``<name>.<loss>``. Training only: the heads are not
            part of the student, so an exported student does not carry them.
        distill_losses (dict, optional): ``{name: loss_cfg}``; each loss
            config has an ``inputs`` dict mapping the loss's ``forward``
            arguments to ``'student.<recorder>'`` / ``'teacher.<recorder>'``
            or to a list of them (the argument is then the tuple of those
            outputs); it is popped before the loss is built. The log key is
            ``name``, which must contain ``loss`` (mmengine only sums such
            keys). A loss that returns a dict ``{key: value}`` is logged as
            ``<name>.<key>`` per entry. A
            loss that applies a model's own layer (e.g. MMH's RAD classifies
            pooled regions with the student's and the teacher's
            classifiers) also has ``modules``, mapping arguments to
            ``'student.<module path>'`` / ``'teacher.<module path>'``; the
            modules are passed at each call and never registered in the
            loss (no second copy in the optimizer or the checkpoint, and
            the teacher's stays frozen).
        data_preprocessor (dict, optional): must be ``None``: the student's
            preprocessor is the distiller's.
        init_cfg (dict, optional): mmengine init config.

    Example:
        See :class:`SegDistiller` and :class:`ClsDistiller`; MMANet's full
        configuration is ``configs/mmanet/synthetic_seg_cpu.py``.
    """

    # the host MODELS registry, set by subclasses
    registry = ROOT_MODELS

    def __init__(self,
                 student: dict,
                 teacher: dict,
                 teacher_ckpt: str,
                 teacher_ckpt_prefix: Optional[str] = None,
                 teacher_combination: Union[None, str, List[str]] = None,
                 student_recorders: Optional[Dict] = None,
                 teacher_recorders: Optional[Dict] = None,
                 aux_heads: Optional[Dict[str, dict]] = None,
                 distill_losses: Optional[Dict[str, dict]] = None,
                 method_losses: Optional[List[dict]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is not None:
            raise ValueError(
                f'{type(self).__name__}: put the data preprocessor in the '
                '`student` config, not on the distiller')
        for key, cfg in (('student', student), ('teacher', teacher)):
            if not isinstance(cfg, dict) or 'type' not in cfg:
                raise TypeError(f'{type(self).__name__}: `{key}` must be a '
                                f'model config dict with a `type`, got '
                                f'{cfg!r}')
        super().__init__(init_cfg=init_cfg)
        self.student = self.registry.build(student)
        # the student's preprocessor serves the distiller; in training it
        # also gives the teacher's view
        self.data_preprocessor = TeacherViewPreprocessor(
            self.student.data_preprocessor, teacher_combination)
        self.layout = self.data_preprocessor.layout
        self.teacher_combination = self.data_preprocessor.teacher_combination
        # the student's layout reaches the teacher (which sees the same
        # stacked inputs) and the distiller's own heads and method losses
        source = (self.layout, 'student.' + getattr(
            self.student, 'layout_source', 'data_preprocessor.modalities'))
        teacher = copy.deepcopy(teacher)
        parts, _ = fill_model_layout(
            {k: teacher[k] for k in MODEL_COMPONENTS if k in teacher},
            self.registry, source, prefix='teacher.')
        teacher.update(parts)
        parts, _ = fill_model_layout(
            dict(aux_heads=aux_heads, method_losses=method_losses),
            self.registry, source)
        aux_heads, method_losses = parts['aux_heads'], parts['method_losses']

        teacher_model = self.registry.build(teacher)
        check_same_layout(getattr(teacher_model, 'layout', None),
                          'teacher.layout', source)
        load_teacher_checkpoint(teacher_model, teacher_ckpt,
                                teacher_ckpt_prefix)
        # kept out of the module tree: not in parameters() or state_dict()
        self.__dict__['_teacher'] = freeze_teacher(teacher_model)
        self.teacher_ckpt = teacher_ckpt

        self.student_recorder = FeatureRecorder(self.student,
                                                student_recorders,
                                                'student_recorders')
        self.teacher_recorder = FeatureRecorder(self.teacher,
                                                teacher_recorders,
                                                'teacher_recorders')
        self.aux_heads = nn.ModuleDict()
        self.aux_inputs: Dict[str, str] = {}
        for name, cfg in (aux_heads or {}).items():
            if not isinstance(cfg, dict) or set(cfg) != {'head', 'inputs'}:
                raise ValueError(
                    f'`aux_heads.{name}` must be dict(head=<head config>, '
                    f"inputs='student.<recorder>'), got {cfg!r}")
            self._check_inputs(f'aux_heads.{name}', dict(inputs=cfg['inputs']),
                               sides=('student', ))
            self.aux_inputs[name] = cfg['inputs'].partition('.')[2]
            self.aux_heads[name] = self.registry.build(cfg['head'])
        if method_losses and not hasattr(self.student, 'forward_record'):
            raise TypeError(
                f'{type(self).__name__}.method_losses need a student that '
                'records its forward (MultiModalEncoderDecoder / '
                f'MultiModalImageClassifier), got '
                f'{type(self.student).__name__}')
        self.method_losses = build_method_losses(
            method_losses, 'distiller.method_losses')
        self.distill_losses = DistillLosses()
        self.loss_inputs: Dict[str, Dict[str, str]] = {}
        self.loss_modules: Dict[str, Dict[str, str]] = {}
        for name, cfg in (distill_losses or {}).items():
            if 'loss' not in name:
                raise ValueError(
                    f'`distill_losses.{name}`: the name must contain "loss" '
                    '(mmengine adds only such log keys to the total loss), '
                    f'e.g. "loss_{name}"')
            cfg = dict(cfg)
            inputs = cfg.pop('inputs', None)
            self.loss_inputs[name] = self._check_inputs(
                f'distill_losses.{name}.inputs', inputs)
            self.loss_modules[name] = self._check_modules(
                f'distill_losses.{name}.modules', cfg.pop('modules', None))
            both = set(self.loss_modules[name]) & set(self.loss_inputs[name])
            if both:
                raise ValueError(f'`distill_losses.{name}`: arguments '
                                 f'{sorted(both)} are in both `inputs` and '
                                 '`modules`')
            self.distill_losses[name] = self.registry.build(cfg)

    # -- construction helpers ----------------------------------------------
    def _check_inputs(self, option: str, inputs,
                      sides=('student', 'teacher')) -> Dict[str, str]:
        if not isinstance(inputs, dict) or not inputs:
            raise ValueError(
                f'`{option}` must map the loss arguments to recorded outputs,'
                " e.g. dict(feat_s='student.fuse3', feat_t='teacher.fuse3')")
        recorders = dict(student=self.student_recorder,
                         teacher=self.teacher_recorder)
        for arg, sources in inputs.items():
            many = isinstance(sources, (list, tuple))
            if many and not sources:
                raise ValueError(f'`{option}.{arg}` is an empty list')
            for source in (sources if many else [sources]):
                side, _, rec = str(source).partition('.')
                if side not in sides or rec not in recorders[side].paths:
                    known = [f'{sd}.{n}' for sd in sides
                             for n in recorders[sd].paths]
                    raise ValueError(f'`{option}` names {source!r}, which is '
                                     f'no recorded output; known: {known}')
        return dict(inputs)

    def _check_modules(self, option: str, modules) -> Dict[str, str]:
        """``{arg: 'student.<path>' | 'teacher.<path>'}``, paths checked."""
        if modules is None:
            return {}
        if not isinstance(modules, dict):
            raise ValueError(f"`{option}` must map loss arguments to "
                             "'student.<module path>' / 'teacher.<module "
                             f"path>', got {modules!r}")
        models = dict(student=self.student, teacher=self.teacher)
        for arg, source in modules.items():
            side, _, path = str(source).partition('.')
            if side not in models or not path:
                raise ValueError(f'`{option}.{arg}` must be '
                                 "'student.<module path>' or 'teacher."
                                 f"<module path>', got {source!r}")
            try:
                models[side].get_submodule(path)
            except AttributeError:
                raise ValueError(
                    f'`{option}.{arg}`: the {side} has no module {path!r}'
                    ) from None
        return dict(modules)

    # -- the frozen teacher ------------------------------------------------
    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher (not a submodule: never saved or optimised)."""
        return self.__dict__['_teacher']

    def _apply(self, fn, *args, **kwargs):
        """``.to()``, ``.cuda()``, ``.half()`` ... move the teacher too."""
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True):
        """Switch the student; the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.train(False)
        return self

    # -- warm-up -------------------------------------------------------------
    def distill_active(self) -> bool:
        """Whether distillation counts now (losses defined, scale > 0)."""
        return bool(self.distill_losses) and \
            self.distill_losses.loss_scale != 0

    # -- losses --------------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: List,
             teacher_inputs: Optional[torch.Tensor] = None,
             teacher_samples: Optional[List] = None
             ) -> Dict[str, torch.Tensor]:
        """Student task losses plus the distillation losses.

        Args:
            inputs (Tensor): (B, C, H, W) the student's (masked) inputs.
            data_samples (list): the student's samples (with masks).
            teacher_inputs (Tensor, optional): (B, C, H, W) the teacher's
                view; defaults to ``inputs`` (right only when the student
                view is the teacher's, e.g. both full).
            teacher_samples (list, optional): samples carrying the teacher's
                mask; default: the teacher's combination for every sample.
        """
        active = self.distill_active()
        if not active and not self.aux_heads and not self.method_losses:
            return self.student.loss(inputs, data_samples)
        try:
            with self.student_recorder:
                losses = self._student_losses(inputs, data_samples)
            for name, head in self.aux_heads.items():
                feats = self.student_recorder.get(self.aux_inputs[name])
                for key, value in self.aux_head_loss(head, feats,
                                                     data_samples).items():
                    losses[f'{name}.{key}'] = value
            if active:
                self.run_teacher(inputs if teacher_inputs is None else
                                 teacher_inputs, teacher_samples)
                losses.update(self.compute_distill_losses())
        finally:
            self.student_recorder.clear()
            self.teacher_recorder.clear()
        return losses

    def _student_losses(self, inputs, data_samples) -> dict:
        """The student's losses, plus the distiller's method losses on the
        student's forward record."""
        if not self.method_losses:
            return self.student.loss(inputs, data_samples)
        record = self.student.forward_record(inputs, data_samples)
        losses = self.student.add_method_losses(
            self.student._task_losses(record), record)
        return self.student.add_method_losses(
            losses, record, self.method_losses, 'distiller.method_losses')

    def aux_head_loss(self, head: nn.Module, feats, data_samples) -> dict:
        """Losses of one regularization head (task-specific call)."""
        raise NotImplementedError

    @torch.no_grad()
    def run_teacher(self, inputs: torch.Tensor,
                    data_samples: Optional[List] = None) -> None:
        """Run the frozen teacher on its view, recording its outputs.

        Args:
            inputs (Tensor): (B, C, H, W) the teacher's view.
            data_samples (list, optional): samples with the teacher's mask;
                default: ``teacher_combination`` for every sample.
        """
        if data_samples is None:
            mask = self.layout.combination_mask(self.teacher_combination)
            data_samples = [BaseDataElement() for _ in range(inputs.shape[0])]
            set_modality_masks(data_samples, mask.expand(
                inputs.shape[0], -1))
        with self.teacher_recorder:
            self.teacher(inputs, data_samples, mode='tensor')

    def compute_distill_losses(self) -> Dict[str, torch.Tensor]:
        """Every distillation loss on the outputs recorded in this step."""
        recorders = dict(student=self.student_recorder,
                         teacher=self.teacher_recorder)
        models = dict(student=self.student, teacher=self.teacher)

        def get(source):
            side, _, rec = source.partition('.')
            return recorders[side].get(rec)

        scale = self.distill_losses.loss_scale
        out = {}
        for name, loss in self.distill_losses.items():
            kwargs = {
                arg: tuple(get(s) for s in source) if isinstance(
                    source, (list, tuple)) else get(source)
                for arg, source in self.loss_inputs[name].items()}
            for arg, source in self.loss_modules[name].items():
                side, _, path = source.partition('.')
                kwargs[arg] = models[side].get_submodule(path)
            value = loss(**kwargs)
            if isinstance(value, dict):
                out.update({f'{name}.{key}': v * scale
                            for key, v in value.items()})
            else:
                out[name] = value * scale
        return out

    # -- prediction goes to the student --------------------------------------
    def forward(self, inputs: torch.Tensor, data_samples=None,
                mode: str = 'tensor', teacher_inputs=None,
                teacher_samples=None):
        """``'loss'``: :meth:`loss` (with the teacher's view from the data
        preprocessor); ``'predict'`` / ``'tensor'``: the student's."""
        if mode == 'loss':
            return self.loss(inputs, data_samples, teacher_inputs,
                             teacher_samples)
        if mode in ('predict', 'tensor'):
            return self.student(inputs, data_samples, mode=mode)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def predict_combinations(self, inputs: torch.Tensor, data_samples,
                             combinations=None):
        """The student's every-combination prediction."""
        return self.student.predict_combinations(inputs, data_samples,
                                                 combinations)


class DistillLosses(nn.ModuleDict):
    """The distillation losses of a distiller, with a warm-up scale.

    ``loss_scale`` (1 by default) multiplies every distillation loss; at 0
    the teacher does not run at all. :class:`LossScaleWarmupHook` sets it
    (``modules=['distill_losses']``), e.g. to start MMANet's MAD at epoch 11.

    Args:
        modules (dict, optional): ``{name: loss module}``.

    Example:
        >>> losses = DistillLosses()
        >>> losses.loss_scale
        1.0
    """

    def __init__(self, modules=None):
        super().__init__(modules)
        self.loss_scale = 1.0
