"""`grokscope reproduce NAME`: the papers' experiments end to end, our numbers beside theirs.

Each module exposes `reproduce(out: Path, quick: bool, device: str, seed: int) -> Result`; `reproduce()` looks
the name up, runs it on one torch thread over `seeds` replicates (seed, seed + 1, …: every init and
data seed shifted; 0 = the published runs), each in `<out>/seed<N>/`, times it, prints the table and
the claims over seeds and writes `<out>/reproduce.json` (each replicate's own beside its runs).
The replicates' runs are trained together: each seed's reproduction is run with training deferred
until all of them have asked for their runs, which then train as one ensemble stack per shape
(a multi-stage reproduction repeats this per stage). Finished runs under `out` are reused on a
re-run (same config → same directory → nothing retrained).
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
              console: Any = None, seed: int = 0, seeds: int = 1) -> Result:
    """Run reproduction `name` over replicates seed … seed + seeds − 1 (a `Result` whose claims are read
    over them); ConfigError naming the choices for an unknown one."""
    REPRODUCTIONS.get(name)
    from grokscope.errors import ConfigError
    from grokscope.reproduce.common import over_seeds, print_result, write_result

    if seeds < 1 or seed < 0:
        raise ConfigError(f"--seeds must be ≥ 1 and --seed ≥ 0, got seeds={seeds}, seed={seed}")
    if out is None:
        out = Path("runs/reproduce") / (name + ("_quick" if quick else ""))
    out = Path(out)
    import torch

    module = importlib.import_module(f"grokscope.reproduce.{name}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models, several jobs on a small machine: more threads only fight
    t0 = time.perf_counter()
    try:
        results = _over_replicates(module, out, quick, device, list(range(seed, seed + seeds)))
    finally:
        torch.set_num_threads(threads)
    for s, r in results.items():
        r.seed = s
        write_result(r, out / f"seed{s}")
    result = over_seeds(list(results.values()))
    result.wall_s = round(time.perf_counter() - t0, 1)
    path = write_result(result, out)
    if console is not None:
        print_result(result, console)
        console.print(f"wrote {path} ({result.wall_s:.0f} s)", highlight=False)
    return result


def _over_replicates(module: Any, out: Path, quick: bool, device: str, seeds: list[int]) -> dict[int, Result]:
    """{seed: Result}: each pass runs every unfinished seed with training deferred, then trains what they
    asked for as one call (seeds stacked); a seed is done when it runs through without asking."""
    from grokscope.reproduce.common import Deferred, deferring, train_or_reuse

    done: dict[int, Result] = {}
    asked: set[str] = set()
    while len(done) < len(seeds):
        pending: list[Any] = []
        for s in seeds:
            if s in done:
                continue
            try:
                with deferring(pending):
                    done[s] = module.reproduce(out / f"seed{s}", quick=quick, device=device, seed=s)
            except Deferred:
                pass
        if pending:
            runs = dict((str(p), (c, p)) for c, p in pending)
            if set(runs) <= asked:  # trained already and still unfinished: never loop
                raise RuntimeError(f"runs still unfinished after training: {sorted(runs)[:3]}")
            asked |= set(runs)
            cfgs, paths = zip(*runs.values(), strict=True)
            train_or_reuse(list(cfgs), list(paths))
    return {s: done[s] for s in seeds}


__all__ = ["REPRODUCTIONS", "Result", "Row", "names", "print_result", "reproduce"]
