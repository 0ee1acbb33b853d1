"""The one training engine (ensemble-first), its optimizers, gradient transforms, losses, sinks."""

from grokscope.train.loop import Engine, stack_key, train
from grokscope.train.optim import OPTIMIZERS, StackedOptimizer
from grokscope.train.sinks import MemorySink, NullSink, Sink, Tee, tee
from grokscope.train.state import Member, Resume
from grokscope.train.stop_rules import STOP_RULES, Rule
from grokscope.train.transforms import TRANSFORMS, GradientTransform

__all__ = ["OPTIMIZERS", "STOP_RULES", "TRANSFORMS", "Engine", "GradientTransform", "Member", "MemorySink", "NullSink",
           "Resume", "Rule", "Sink", "StackedOptimizer", "Tee", "stack_key", "tee", "train"]
