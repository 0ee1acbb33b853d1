"""Starting a run from another run's checkpoint (`grokscope run --init-from RUN[:step]`), and the
provenance file `init.json` it leaves in the new run directory.

A source is named `RUN` or `RUN:STEP`, STEP an int or final | saturation | first (default final).
Everything here only reads: a bad source (not a run, no such checkpoint) is one `GrokscopeError`
line before any directory is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grokscope.errors import ConfigError, RunDirError
from grokscope.store.files import write_json
from grokscope.store.run import load_run

INIT = "init.json"  # in the new run directory: where its start weights came from
NAMED_STEPS = ("final", "saturation", "first")


@dataclass(frozen=True)
class InitSource:
    """One checkpoint of another run: its weights (one model, no K axis) and where they came from."""

    path: Path
    run_id: str
    step: int
    asked: str  # the step as named: final | saturation | first | the int
    params: dict[str, torch.Tensor]

    def info(self) -> dict[str, Any]:
        """What `init.json` records (the weights' hash is added by the caller that names the run)."""
        return {"source": str(self.path), "source_abs": str(self.path.resolve()), "source_run_id": self.run_id,
                "step": self.step, "asked": self.asked}


def parse_spec(spec: str | Path) -> tuple[Path, int | str]:
    """`RUN[:STEP]` -> (run path, step). A ':' followed by a path separator belongs to the path."""
    text = str(spec)
    head, sep, tail = text.rpartition(":")
    if not sep or not head or "/" in tail or "\\" in tail:
        return Path(text), "final"
    if tail in NAMED_STEPS:
        return Path(head), tail
    try:
        step = int(tail)
    except ValueError:
        if Path(text).is_dir():  # a directory whose name has a ':' in it
            return Path(text), "final"
        raise ConfigError(f"--init-from {text}: the step after ':' must be an int or one of "
                          f"{', '.join(NAMED_STEPS)}, got {tail!r}") from None
    if step < 0:
        raise ConfigError(f"--init-from {text}: the step must be >= 0, got {step}")
    return Path(head), step


def load_source(spec: str | Path, step: int | str | None = None) -> InitSource:
    """The checkpoint `spec` names (`RUN[:STEP]`; `step`, when given, overrides the spec's)."""
    path, which = parse_spec(spec)
    if step is not None:
        which = step
    if not path.is_dir():
        raise RunDirError(f"--init-from {path}: no such run directory")
    run = load_run(path)  # RunDirError: not a run directory
    at = run.resolve_step(which)  # RunDirError: no such checkpoint, naming the run
    params = {k: v[0] for k, v in run.params(at).items()}  # drop the K = 1 axis
    return InitSource(path, run.config.run_id, at, str(which), params)


def weights_hash(params: Mapping[str, torch.Tensor]) -> str:
    """10 hex digits of the sha256 of the weights (names and float64 values, in name order)."""
    h = hashlib.sha256()
    for k in sorted(params):
        h.update(k.encode())
        h.update(params[k].detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
    return h.hexdigest()[:10]


def write_init(run_dir: Path, info: dict[str, Any]) -> None:
    """Write `init.json` into a run directory (atomically)."""
    write_json(Path(run_dir) / INIT, info)


def read_init(run_dir: Path) -> dict[str, Any] | None:
    """A run directory's `init.json`, or None (a run started from its seeded init, or an unreadable file)."""
    try:
        data = json.loads((Path(run_dir) / INIT).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


__all__ = ["INIT", "NAMED_STEPS", "InitSource", "load_source", "parse_spec", "read_init", "weights_hash", "write_init"]
