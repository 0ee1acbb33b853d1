"""The one training engine (ensemble-first), its optimizer, losses and schedules."""

from grokscope.train.loop import Engine, Resume, Sink, stack_key, train
from grokscope.train.optim import StackedOptimizer

__all__ = ["Engine", "Resume", "Sink", "StackedOptimizer", "stack_key", "train"]
