"""One modality layout per model, handed to every component that takes one.

Shorthand: M modalities, C_m channels of modality m.

A config declares the layout once (``modalities = dict(rgb=3, depth=1)``,
the dataset base's variable) and gives it to the model's data preprocessor
(``data_preprocessor=dict(modalities=...)``). Before building its parts, a
task model hands that layout to every component config that takes a
``modalities`` argument and leaves it unset: the backbone, the neck, the
task head (a :class:`LateFusionHead`), auxiliary heads, method losses
(:class:`CombinationRegularizer`, :class:`DUCLoss`, ...) and the configs a
component names in its ``layout_children`` (the backbone that
:class:`UDMLBackbone` wraps). A distiller hands its student's layout to the
teacher and to its own method losses and auxiliary heads the same way.

A component whose config names its own layout must agree; the error names
both places and both values::

    backbone.modalities ModalityLayout('rgb:3') !=
    data_preprocessor.modalities ModalityLayout('rgb:3,depth:1')

The source is the first of the model's components that names a layout, in
the order data preprocessor, backbone, neck, heads, method losses: the data
preprocessor's where it has one (a model without a multi-modal data
preprocessor takes its backbone's).

A component "takes a layout" when its class's ``__init__`` has a
``modalities`` argument; fusion blocks and decision rules, which take the
modality *names*, are filled by the backbone / late-fusion head that builds
them, not from here.
"""
import inspect
from typing import Dict, Optional, Sequence, Tuple

import torch.nn as nn

from mm_incomplete.modality import ModalityLayout

#: the argument a component takes its layout by
LAYOUT_ARG = 'modalities'
#: options whose value is a list or a ``{name: config}`` dict of components
COMPONENT_COLLECTIONS = ('method_losses', 'aux_heads')
#: the components of a task model config, in source order
MODEL_COMPONENTS = ('data_preprocessor', 'backbone', 'neck', 'decode_head',
                    'head', 'auxiliary_head', 'method_losses')

Source = Tuple[ModalityLayout, str]


def component_class(cfg, registry) -> Optional[type]:
    """The class a component config (or built module) stands for, looked up
    in ``registry`` (and its parents); ``None`` where it cannot tell."""
    if isinstance(cfg, nn.Module):
        return type(cfg)
    if not isinstance(cfg, dict):
        return None
    typ = cfg.get('type')
    if isinstance(typ, type):
        return typ
    if isinstance(typ, str):
        try:
            return registry.get(typ)
        except KeyError:
            return None
    return None


def takes_layout(cls: Optional[type]) -> bool:
    """Whether ``cls.__init__`` has a ``modalities`` argument."""
    if cls is None:
        return False
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False
    return LAYOUT_ARG in params


def _layout_of_module(module: nn.Module) -> Optional[ModalityLayout]:
    layout = getattr(module, 'layout', None)
    return layout if isinstance(layout, ModalityLayout) else None


def declared_layout(cfg, option: str, registry) -> Optional[Source]:
    """The layout a component config (or one of its ``layout_children``)
    names, and where: ``(layout, '<option>.modalities')``; ``None`` if it
    names none.

    Example:
        >>> from mmseg.registry import MODELS
        >>> declared_layout(dict(type='MultiBranchResNet',
        ...                      modalities='rgb:3,thermal:1:other'),
        ...                 'backbone', MODELS)
        (ModalityLayout('rgb:3,thermal:1:other'), 'backbone.modalities')
        >>> declared_layout(dict(type='UDMLBackbone', backbone=dict(
        ...     type='MultiBranchResNet', modalities='rgb:3')), 'backbone',
        ...     MODELS)[1]
        'backbone.backbone.modalities'
    """
    if isinstance(cfg, nn.Module):
        layout = _layout_of_module(cfg)
        return None if layout is None else (layout, option)
    cls = component_class(cfg, registry)
    if cls is None:
        return None
    if takes_layout(cls) and cfg.get(LAYOUT_ARG) is not None:
        where = f'{option}.{LAYOUT_ARG}'
        return ModalityLayout(cfg[LAYOUT_ARG], where), where
    for child in getattr(cls, 'layout_children', ()):
        found = declared_layout(cfg.get(child), f'{option}.{child}', registry)
        if found is not None:
            return found
    return None


def _mismatch(option: str, own: ModalityLayout, source: Source) -> ValueError:
    layout, where = source
    return ValueError(
        f'{option} {own!r} != {where} {layout!r}: the layout is declared '
        f'once ({where}); leave {option} unset or give the same layout')


def fill_layout(cfg, source: Source, option: str, registry):
    """A copy of the component config ``cfg`` with the source's layout
    where it takes one and names none.

    Args:
        cfg (dict | nn.Module | list | None): a component config, a built
            module (checked, not changed) or a list of them.
        source (tuple): ``(layout, where it was declared)``.
        option (str): the component's config key, for error messages.
        registry: the registry the component is built from.

    Returns:
        The config, filled in (the given one where nothing was to fill).

    Raises:
        ValueError: the component names another layout (the message names
            both places and both values).

    Example:
        >>> from mmseg.registry import MODELS
        >>> src = (ModalityLayout('rgb:3,depth:1'),
        ...        'data_preprocessor.modalities')
        >>> fill_layout(dict(type='MultiBranchResNet', depth=18), src,
        ...             'backbone', MODELS)['modalities']
        ModalityLayout('rgb:3,depth:1')
    """
    layout = source[0]
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(fill_layout(c, source, f'{option}[{i}]', registry)
                         for i, c in enumerate(cfg))
    if isinstance(cfg, nn.Module):
        own = _layout_of_module(cfg)
        if own is not None and own != layout:
            raise _mismatch(f'{option}.layout', own, source)
        return cfg
    cls = component_class(cfg, registry)
    if cls is None:
        return cfg
    out = None
    if takes_layout(cls):
        given = cfg.get(LAYOUT_ARG)
        if given is None:
            out = type(cfg)(cfg)  # a ConfigDict stays one
            out[LAYOUT_ARG] = layout
        else:
            where = f'{option}.{LAYOUT_ARG}'
            own = ModalityLayout(given, where)
            if own != layout:
                raise _mismatch(where, own, source)
    for child in getattr(cls, 'layout_children', ()):
        if cfg.get(child) is not None:
            out = type(cfg)(cfg) if out is None else out
            out[child] = fill_layout(cfg[child], source, f'{option}.{child}',
                                     registry)
    return cfg if out is None else out


def _members(option: str, value):
    """``(sub-option, key, config, inner key)`` of a component collection
    (a list or a ``{name: config}`` dict); an aux head's component is its
    ``head``."""
    items = enumerate(value) if isinstance(value, (list, tuple)) else \
        value.items()
    for key, cfg in items:
        sub = f'{option}[{key}]' if isinstance(key, int) else \
            f'{option}.{key}'
        if option.endswith('aux_heads') and isinstance(cfg, dict) \
                and 'head' in cfg:
            yield f'{sub}.head', key, cfg, 'head'
        else:
            yield sub, key, cfg, None


def _fill_collection(option: str, value, source: Source, registry):
    if not isinstance(value, (list, tuple, dict)):
        return value  # None, or a wrong form its builder reports
    out = list(value) if isinstance(value, (list, tuple)) else dict(value)
    for sub, key, cfg, inner in _members(option, value):
        if inner is None:
            out[key] = fill_layout(cfg, source, sub, registry)
        else:
            out[key] = dict(cfg, **{inner: fill_layout(cfg[inner], source,
                                                       sub, registry)})
    return out


def _declared_in_collection(option: str, value, registry
                            ) -> Optional[Source]:
    if not isinstance(value, (list, tuple, dict)):
        return None
    for sub, _, cfg, inner in _members(option, value):
        found = declared_layout(cfg if inner is None else cfg[inner], sub,
                                registry)
        if found is not None:
            return found
    return None


def fill_model_layout(components: Dict[str, object], registry,
                      source: Optional[Source] = None, prefix: str = ''
                      ) -> Tuple[Dict[str, object], Optional[Source]]:
    """Hand one layout to every component of a model.

    Args:
        components (dict): ``{option: config}`` of the model's components in
            source order (``data_preprocessor`` first); ``method_losses`` and
            ``aux_heads`` may be lists or ``{name: config}`` dicts.
        registry: the model's registry (mmseg's or mmpretrain's ``MODELS``).
        source (tuple, optional): ``(layout, where)`` given from outside
            (a distiller's student for its teacher); every component must
            agree with it. Default: the first component that names one.
        prefix (str): prepended to the options in messages (``'teacher.'``).

    Returns:
        tuple: the filled ``{option: config}`` and the source
        ``(layout, where)`` (``None`` when no component names a layout:
        nothing is filled, and a component that needs one says so).

    Example:
        >>> from mmseg.registry import MODELS
        >>> parts, src = fill_model_layout(dict(
        ...     data_preprocessor=dict(type='MultiModalSegDataPreProcessor',
        ...                            modalities=dict(rgb=3, depth=1)),
        ...     backbone=dict(type='MultiBranchResNet', depth=18),
        ...     decode_head=dict(type='FCNHead')), MODELS)
        >>> src
        (ModalityLayout('rgb:3,depth:1'), 'data_preprocessor.modalities')
        >>> parts['backbone']['modalities'], 'modalities' in parts[
        ...     'decode_head']
        (ModalityLayout('rgb:3,depth:1'), False)
    """
    named = {prefix + k: v for k, v in components.items()}
    if source is None:
        for option, cfg in named.items():
            if option[len(prefix):] in COMPONENT_COLLECTIONS:
                source = _declared_in_collection(option, cfg, registry)
            else:
                source = declared_layout(cfg, option, registry)
            if source is not None:
                break
        if source is None:
            return dict(components), None
    out = {}
    for key, cfg in components.items():
        if key in COMPONENT_COLLECTIONS:
            out[key] = _fill_collection(prefix + key, cfg, source, registry)
        else:
            out[key] = fill_layout(cfg, source, prefix + key, registry)
    return out, source


def check_same_layout(own: Optional[ModalityLayout], option: str,
                      source: Source) -> None:
    """Raise when a built part's layout differs from the source's."""
    if own is not None and own != source[0]:
        raise _mismatch(option, own, source)


__all__: Sequence[str] = ('MODEL_COMPONENTS', 'fill_model_layout',
                          'fill_layout', 'declared_layout', 'takes_layout',
                          'component_class', 'check_same_layout')
