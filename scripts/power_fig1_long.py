"""Power et al. 2022, Figure 1 at full scale (x/y mod 97, 50%, Adam, wd 0, budget 10⁶): train or continue the
run, then publish how far it got. `python scripts/power_fig1_long.py RUN_DIR [--train]`:

--train  brings RUN_DIR (the `power2022_fig1` preset, replicate 0 — the config `grokscope reproduce power2022`
         trains) towards its 10⁶ steps, resuming from its last checkpoint; kill it whenever, re-run to continue.
         (The engine flushes denormal floats, `train.flush_denormal`: after the slingshots the Adam moments of
         the collapsed-softmax gradients are denormal and made each step ~8× slower on x86, 346 → 45 ms.)
Then it writes the run's Figure 1 claims (grokscope.reproduce.power2022.fig1_claims: each ✓ / ✗ / not tested
at the steps reached) to docs/data/claims/power2022_fig1_full.json, the evaluated trajectory to
docs/data/power2022/fig1_full_trajectory.json, the curves to docs/papers/img/power2022_fig1_full_curves.png,
and the claims table into docs/papers/power2022.md between `<!-- claims:power2022_fig1_full -->` and
`<!-- /claims -->`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "power2022_fig1_full"


def train(run_dir: Path) -> None:
    import torch

    from grokscope.reproduce.common import train_or_reuse
    from grokscope.reproduce.power2022 import configs

    torch.set_num_threads(1)
    train_or_reuse([configs(False)["fig1"]["div"]], [run_dir])


def publish(run_dir: Path) -> None:
    from claims_table import publish as publish_claims  # scripts/ is on sys.path when run as a script

    from grokscope.report.curves import plot_curves
    from grokscope.reproduce.common import Result, claims_markdown
    from grokscope.reproduce.power2022 import TITLE, fig1_claims, measure
    from grokscope.store.run import load_run

    d = measure(run_dir)
    res = Result("power2022", TITLE + " — Figure 1 at full scale")
    fig1_claims(res, d, {"t_val90": None})  # the wd-1 control is the default regime's (docs page)
    res.claims = [c for c in res.claims if not c.text.startswith("control:")]
    doc = {**{k: v for k, v in res.to_dict().items() if k in ("name", "title", "quick", "seed", "seeds", "claims")},
           "wall_s": d["wall_s"] or 0.0, "rows": [], "notes": [f"{d['steps']:,} of {d['budget']:,} steps"]}
    publish_claims(doc, KEY)
    rows = load_run(run_dir).rows()
    keep = ("step", "train_acc", "test_acc", "train_loss", "test_loss", "weight_norm")
    out = ROOT / "docs/data/power2022/fig1_full_trajectory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([{k: r.get(k) for k in keep} for r in rows]) + "\n")
    plot_curves(rows, {"run_id": f"Figure 1 regime, x/y mod 97, 50%: {d['steps']:,} steps", "t_train99": d["t_train99"],
                       "t_val99": d["t_val99"]}, ROOT / "docs/papers/img/power2022_fig1_full_curves.png")
    print(claims_markdown(doc))


if __name__ == "__main__":
    run = Path(sys.argv[1])
    if "--train" in sys.argv[2:]:
        train(run)
    publish(run)
