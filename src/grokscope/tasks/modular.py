"""The modular task under the registry's convention (`grokscope.tasks.<name>.make`); it lives in
`grokscope.tasks.dataset` with the split and label noise it shares with the other class tasks."""

from grokscope.tasks.dataset import make_modular as make

__all__ = ["make"]
