"""`python -m bench --profile`: where grokscope's training step and evaluation spend their time."""

from __future__ import annotations

from typing import Any

from bench.common import MemorySink, Settings


def _table(prof: Any, rows: int) -> str:
    return prof.key_averages().table(
        sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=44,
        max_shapes_column_width=0,
    )


def profile_engine(cfg: Any, n_steps: int, rows: int = 12) -> dict[str, str]:
    """torch.profiler tables (self CPU time) of `n_steps` training steps and one evaluate()."""
    from torch.profiler import ProfilerActivity, profile

    from grokscope.train.loop import Engine

    engine = Engine([cfg], [MemorySink()])
    for _ in range(3):
        engine.train_step(check_saturation=False)
    out = {}
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(n_steps):
            engine.train_step(check_saturation=False)
    out[f"train_step x{n_steps}"] = _table(prof, rows)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        engine.train_step(check_saturation=True)
    out["train_step(check_saturation=True) x1"] = _table(prof, rows)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        engine.evaluate()
    out["evaluate() x1"] = _table(prof, rows)
    return out


def run(s: Settings, only: set[str], console: Any) -> None:
    from bench import mlp, transformer

    jobs = []
    if "mlp" in only:
        jobs.append(("Swaroop MLP", mlp.config(s, 1000), 20))
    if "transformer" in only:
        jobs.append(("Nanda transformer", transformer.config(s, 1000), 3))
    for name, cfg, n in jobs:
        for what, table in profile_engine(cfg, n).items():
            console.print(f"=== profile: {name}, grokscope {what} (self CPU time)", markup=False)
            console.print(table, highlight=False, markup=False, soft_wrap=True)
