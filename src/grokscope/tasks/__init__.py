"""Tasks: modular operations and S5, splits, label noise."""

from grokscope.tasks.dataset import Split, Task, make_split, make_task, split_counts
from grokscope.tasks.ops import OPS, Op, s5_table

__all__ = ["OPS", "Op", "Split", "Task", "make_split", "make_task", "s5_table", "split_counts"]
