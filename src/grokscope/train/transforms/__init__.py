"""Gradient transforms: per-model maps applied to the gradients between backward and the update.

A transform is one module in this package: a `GradientTransform` subclass decorated with
`@register`, naming the config fields it reads per model (they may differ across a stack, like lr)
and when it is active. Its hyperparameters are [K] tensors and its state tensors [K, ...], so it
follows the stack when finished models leave (`select`) and is saved for resume (`state_tensors`).
A transform may also constrain the weights after the update (`after_step`, e.g. a fixed norm).

Active transforms run in registry order, which is the order of their module names:
grokfast (EMA or MA filter) -> ortho (⊥Grad, so the optimizer sees an orthogonal gradient) ->
weight_norm (after the update).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from grokscope.config import RunConfig
from grokscope.registry import Registry
from grokscope.train.stack import PerModelState

Tensors = dict[str, torch.Tensor]


class GradientTransform(PerModelState):
    name: str = ""

    @staticmethod
    def active(cfg: RunConfig) -> bool:
        """Whether this model's config asks for the transform."""
        raise NotImplementedError

    def __init__(self, cfgs: Sequence[RunConfig], params: Tensors):
        like = next(iter(params.values()))
        self.init_hyper(cfgs, like.dtype, like.device)  # [K] each, named by their config field
        self.state: dict[str, Tensors] = {}

    def __call__(self, grads: Tensors, step: int, params: Tensors) -> None:
        """Transform `grads` (each [K, ...]) in place before update `step` (0-based); `params` are
        the weights the update will move (read only)."""

    def after_step(self, params: Tensors) -> None:
        """Act on the weights in place right after the optimizer update (a constraint); default none."""


# every module of this package is imported on the first lookup, and registers its transforms
TRANSFORMS: Registry[type[GradientTransform]] = Registry("gradient transform", package=__name__)


def register(cls: type[GradientTransform]) -> type[GradientTransform]:
    """Class decorator: add a transform to the registry under `cls.name`."""
    return TRANSFORMS.register(cls.name)(cls)


def per_model_fields() -> set[str]:
    """Config keys that every registered transform reads per model."""
    return {f for _, cls in TRANSFORMS.items() for f in cls.per_model_fields}


def build_transforms(cfgs: Sequence[RunConfig], params: Tensors) -> list[GradientTransform]:
    """The transforms that some model of the stack asks for, in registry order. A model that does
    not ask for one gets the identity from it (its hyperparameters make it a no-op)."""
    return [cls(cfgs, params) for _, cls in TRANSFORMS.items() if any(cls.active(c) for c in cfgs)]
