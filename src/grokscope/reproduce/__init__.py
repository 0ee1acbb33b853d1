"""`grokscope reproduce NAME`: the papers' experiments end to end, our numbers beside theirs.

Each module exposes `reproduce(out: Path, quick: bool, device: str, seed: int) -> Result`; `reproduce()` looks
the name up, runs it on one torch thread, times it, prints the table and writes
`<out>/reproduce.json`. `seed` picks an independent replicate (every init and data seed shifted;
0 = the published runs). Finished runs under `out` are reused on a re-run (same config → same
directory → nothing retrained).
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grokscope.registry import Registry

if TYPE_CHECKING:
    from grokscope.reproduce.common import Result

# name -> what it reproduces; the experiment is the module grokscope.reproduce.<name> (imported when it
# runs, so the names are listed — `grokscope reproduce --help` — without importing torch)
REPRODUCTIONS: Registry[str] = Registry("reproduction")
for _name, _text in {
    "swaroop2026": "Swaroop 2026: square-wave ReLU MLP, label noise, extracted vs real (Tables 1 and 2)",
    "zhong2023": "Zhong et al. 2023: attention rate 1 (clock) vs 0 (pizza), gradient symmetricity and distance irrelevance",
    "doshi2024": "Doshi et al. 2024: label corruption with the quadratic MLP, coexistence vs inversion, IPR pruning",
    "power2022": "Power et al. 2022: time to generalise per operation at 50% data, and vs the training fraction",
    "pair2023": "PAIR 2023: width x weight decay x data phase diagram of the explorable's model, periodic neurons",
    "nanda2023": "Nanda et al. 2023: 1-layer transformer p = 113, key frequencies, phases, weight-decay check",
    "grokfast2024": "Lee et al. 2024 (Grokfast): EMA / MA vs the published and a tuned Adam baseline, x·y mod p",
    "prieto2025": "Prieto et al. 2025: StableMax and ⊥AdamW grok with wd 0; float32 softmax collapse",
    "merrill2023": "Merrill et al. 2023 / Barak et al. 2022: sparse parity (40, 3) groks; hidden progress, scaling in n, wd-0 control",
    "varma2023": "Varma et al. 2023: ungrokking on a nested subset, semi-grokking vs size, and their hysteresis",
    "omnigrok2023": "Liu et al. 2023 (Omnigrok): x8 init groks on digits, x1 does not; LU losses vs norm; init x wd phases",
    "levi2023": "Levi et al. 2023: linear teacher-student groks; measured t_train99 / t_val99 vs the spectral prediction, λ > 1 control",
}.items():
    REPRODUCTIONS.register(_name)(_text)

_EXPORTS = {"Result": "grokscope.reproduce.common", "Row": "grokscope.reproduce.common",
            "print_result": "grokscope.reproduce.common"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'grokscope.reproduce' has no attribute {name!r}")


def names() -> list[str]:
    return REPRODUCTIONS.names()


def reproduce(name: str, out: str | Path | None = None, quick: bool = False, device: str = "cpu",
              console: Any = None, seed: int = 0) -> Result:
    """Run reproduction `name` (a `Result`); ConfigError naming the choices for an unknown one."""
    REPRODUCTIONS.get(name)
    from grokscope.reproduce.common import print_result, write_result

    if out is None:
        out = Path("runs/reproduce") / (name + ("_quick" if quick else "") + (f"_seed{seed}" if seed else ""))
    out = Path(out)
    import torch

    module = importlib.import_module(f"grokscope.reproduce.{name}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models, several jobs on a small machine: more threads only fight
    t0 = time.perf_counter()
    try:
        result = module.reproduce(out, quick=quick, device=device, seed=seed)
    finally:
        torch.set_num_threads(threads)
    result.wall_s, result.seed = round(time.perf_counter() - t0, 1), seed
    path = write_result(result, out)
    if console is not None:
        print_result(result, console)
        console.print(f"wrote {path} ({result.wall_s:.0f} s)", highlight=False)
    return result


__all__ = ["REPRODUCTIONS", "Result", "Row", "names", "print_result", "reproduce"]
