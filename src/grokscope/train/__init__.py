"""The one training engine (ensemble-first), its optimizers, gradient transforms, losses, sinks."""

from grokscope.train.loop import Engine, Resume, stack_key, train
from grokscope.train.optim import OPTIMIZERS, StackedOptimizer
from grokscope.train.sinks import MemorySink, NullSink, Sink, Tee, tee
from grokscope.train.transforms import TRANSFORMS, GradientTransform

__all__ = ["OPTIMIZERS", "TRANSFORMS", "Engine", "GradientTransform", "MemorySink", "NullSink", "Resume",
           "Sink", "StackedOptimizer", "Tee", "stack_key", "tee", "train"]
