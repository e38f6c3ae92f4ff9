"""The recipe's components from config sections: name tables and builders.

Each config section holds the constructor parameters of one component, under the constructor's
own names, so a builder is ``Class(**the section's fields that are parameters of Class)`` and
the component's constructor is the only place its values are checked:

* ``model`` → :class:`~hambox_torch.models.HAMBoxDetector` (:func:`build_model`);
* ``anchors`` → :class:`hambox_torch.anchors.AnchorGenerator` (:func:`build_anchor_generator`);
* ``matching`` → ``MATCHERS[strategy]`` (:func:`build_matcher`);
* ``loss`` → ``LOSSES[kind]`` (:func:`build_loss`).

A new strategy or loss is one entry in :data:`MATCHERS` or :data:`LOSSES` (plus its parameters
as fields of the section); code that trains with a component of its own passes the object to
:func:`hambox_torch.engine.train.train` instead and needs no table at all.

The builders take the sections duck-typed (any object with the attributes), so this module does
not depend on :mod:`hambox_torch.recipe.config`; that module checks a config by building its
components here.
"""

from __future__ import annotations

import inspect

import torch

from hambox_core.matching import DMSMatcher, HAMBoxMatcher, NAMSMatcher, SMSMatcher
from hambox_torch.anchors import AnchorGenerator
from hambox_torch.losses import RegressionAwareFocalLoss, StandardFocalLoss
from hambox_torch.models import HAMBoxDetector

__all__ = [
    "LOSSES",
    "MATCHERS",
    "build_anchor_generator",
    "build_head_loss",
    "build_head_matcher",
    "build_loss",
    "build_matcher",
    "build_model",
    "constructor_kwargs",
]

#: ``matching.strategy`` -> matcher class (the core's; the supervision step runs its torch twin
#: on GPU tensors, see :class:`hambox_torch.pipeline.BatchMatcher`).
MATCHERS = {
    "sms": SMSMatcher,
    "dms": DMSMatcher,
    "nams": NAMSMatcher,
    "hambox": HAMBoxMatcher,
}

#: ``loss.kind`` -> loss class (the loss contract of
#: :class:`hambox_torch.losses.RegressionAwareFocalLoss`).
LOSSES = {
    "ral": RegressionAwareFocalLoss,
    "focal": StandardFocalLoss,
}


def constructor_kwargs(cls, section, *, skip=()) -> dict:
    """The fields of ``section`` that are parameters of ``cls.__init__`` (by name).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> constructor_kwargs(SMSMatcher, SimpleNamespace(pos_iou_thr=0.4, top_k=3))
    {'pos_iou_thr': 0.4}
    """
    params = inspect.signature(cls.__init__).parameters
    return {
        name: getattr(section, name)
        for name in params
        if name != "self" and name not in skip and hasattr(section, name)
    }


def _choose(table: dict, key: str, value) -> type:
    try:
        return table[value]
    except (KeyError, TypeError):
        raise ValueError(f"{key} must be one of {tuple(table)}, got {value!r}") from None


def build_matcher(matching):
    """The matcher ``MATCHERS[matching.strategy]`` with the section's parameters.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> m = build_matcher(SimpleNamespace(strategy="nams", num_per_face=2, pos_iou_thr=0.4))
    >>> type(m).__name__, m.num_per_face, m.low_iou_thr, m.pos_iou_thr
    ('NAMSMatcher', 2, 0.1, 0.4)
    """
    cls = _choose(MATCHERS, "strategy", matching.strategy)
    return cls(**constructor_kwargs(cls, matching))


def build_head_matcher(matching):
    """The PyramidAnchors head branch's matcher: step one (SMS) with the section's thresholds."""
    return SMSMatcher(**constructor_kwargs(SMSMatcher, matching))


def build_loss(loss):
    """The loss ``LOSSES[loss.kind]`` with the section's parameters."""
    cls = _choose(LOSSES, "kind", loss.kind)
    return cls(**constructor_kwargs(cls, loss))


def build_head_loss(loss):
    """The PyramidAnchors head branch's loss: the standard focal loss with the section's
    ``alpha``, ``gamma``, ``beta`` and ``global_normalize`` (whatever ``loss.kind`` is)."""
    return StandardFocalLoss(**constructor_kwargs(StandardFocalLoss, loss))


def build_anchor_generator(anchors) -> AnchorGenerator:
    """:class:`hambox_torch.anchors.AnchorGenerator` of the ``anchors`` section."""
    return AnchorGenerator(**constructor_kwargs(AnchorGenerator, anchors))


def build_model(model, anchors, *, device=None, pretrained: bool = True) -> HAMBoxDetector:
    """The detector of the ``model`` section on the anchors of the ``anchors`` section.

    Parameters
    ----------
    model, anchors
        The config sections (:class:`~hambox_torch.recipe.config.ModelConfig`,
        :class:`~hambox_torch.recipe.config.AnchorConfig` or any objects with those fields).
    device : torch.device or str, optional
        Build the modules there (``"meta"`` builds the structure only, to check the values
        cheaply).
    pretrained : bool, default True
        Read ``model.pretrained_path`` (False: random trunk weights, e.g. before loading a
        checkpoint).
    """
    kwargs = constructor_kwargs(HAMBoxDetector, model, skip=("anchor_generator",))
    if not pretrained:
        kwargs["pretrained_path"] = None
    generator = build_anchor_generator(anchors)
    if device is None:
        return HAMBoxDetector(**kwargs, anchor_generator=generator)
    with torch.device(device):
        return HAMBoxDetector(**kwargs, anchor_generator=generator)
