"""grokscope: train, dissect, sweep and look at grokking models.

    import grokscope
    run = grokscope.run(grokscope.load_preset("swaroop2026"))
    run.summary["t_val99"]

Attributes are imported lazily so that `grokscope --help` does not pay for torch.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "run": "grokscope.api", "resume": "grokscope.api", "resume_many": "grokscope.api", "load_run": "grokscope.api",
    "load_preset": "grokscope.presets", "GrokscopeError": "grokscope.errors",
    "RunConfig": "grokscope.config", "TaskConfig": "grokscope.config",
    "ModelConfig": "grokscope.config", "OptimConfig": "grokscope.config",
    "TrainConfig": "grokscope.config",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'grokscope' has no attribute {name!r}")
