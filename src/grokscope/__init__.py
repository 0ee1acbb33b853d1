"""grokscope: train, dissect, sweep and look at grokking models.

    import grokscope
    run = grokscope.run(grokscope.load_preset("swaroop2026"))
    run.summary["t_val99"]
"""

from grokscope.api import load_run, resume, run
from grokscope.config import ModelConfig, OptimConfig, RunConfig, TaskConfig, TrainConfig
from grokscope.errors import GrokscopeError
from grokscope.presets import load_preset

__version__ = "0.1.0"
__all__ = [
    "GrokscopeError", "ModelConfig", "OptimConfig", "RunConfig", "TaskConfig", "TrainConfig",
    "load_preset", "load_run", "resume", "run",
]
