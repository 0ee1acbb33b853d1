"""Write tests/data/behaviour_golden.json: every preset's run id and a short float64 training of a
shrunk copy of it (metrics rows and summary), as the code at the time of writing produces them.

`tests/integration/test_behaviour_unchanged.py` trains the same shrunk configs and asserts the same
numbers, so a refactor that changes what a config trains (or its run id) fails. Regenerate only
when a behaviour change is intended, and say so in the commit.

    python scripts/behaviour_golden.py          # writes tests/data/behaviour_golden.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from grokscope.lifecycle import handed_in_rules
from grokscope.presets import load_preset, names
from grokscope.train.loop import train
from grokscope.train.sinks import MemorySink

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "behaviour_golden.json"
COLUMNS = ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm")
# a few dozen float64 steps on a small modulus: cheap, and long enough for every optimizer,
# transform and loss of the presets to act (the transforms' warm-ups included)
# float64 throughout (the loss too), so that another CPU's summation order moves nothing visible
SHRINK = ["task.p=13", "train.steps=40", "train.eval_every=10", "train.eval_log_points=0",
          "train.checkpoint_every=20", "train.checkpoint_log_points=0", "train.batch_size=0",
          "train.compile=false", "train.loss_dtype=float64", "model.d_mlp=16", "model.d_model=16", "model.n_heads=2", "model.d_embed=8"]


# stop rules besides max_steps: patience on the default preset, and the forecast rule (20% of 100 steps) on
# the fast recipe, which memorises by then (the rule looks only at memorised runs since issue #25). The P
# that case records comes from the shipped forecast model: refitting model.json means re-recording it.
EXTRA = {"swaroop2026+patience": ["train.patience=10"],
         "swaroop2026_fast+forecast_stop": ["train.stop_forecast_p=0.999", "train.steps=100", "train.eval_every=2"]}


def shrunk(name: str):
    """The preset (or an EXTRA case) at a size that trains in well under a second."""
    preset, extra = (name.partition("+")[0], EXTRA[name]) if name in EXTRA else (name, [])
    return load_preset(preset).override(SHRINK + extra)


def record(name: str) -> dict:
    cfg = shrunk(name)
    sink = MemorySink()
    summary = train([cfg], [sink], dtype=torch.float64, stop_rules=handed_in_rules([cfg]))[0]
    rows = [{k: r[k] for k in ("step", *COLUMNS)} for r in sink.rows]
    return {"run_id": load_preset(name.partition("+")[0]).run_id, "shrunk_run_id": cfg.run_id, "rows": rows,
            "summary": {k: summary.get(k) for k in ("stop_reason", "steps", "t_train99", "t_val99", "forecast_stop_p_groks")}}


def main() -> int:
    torch.manual_seed(0)
    data = {name: record(name) for name in [*names(), *EXTRA]}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({len(data)} presets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
