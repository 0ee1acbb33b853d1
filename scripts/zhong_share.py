"""The clock-or-pizza share of the Zhong rate × width sweep and its sensitivity to the thresholds:
`python scripts/zhong_share.py SWEEP_DIR` (from `grokscope sweep sweeps/zhong_rate_width.toml --out SWEEP_DIR`)
classifies every run from its checkpoints after it generalised and from its final checkpoint alone
(`grokscope.reproduce.zhong2023.share_report`), writes docs/data/zhong/share_sensitivity.json and draws
docs/papers/img/zhong2023_share_sensitivity.png (docs/papers/zhong2023.md)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from grokscope.reproduce.zhong2023 import share_report

ROOT = Path(__file__).resolve().parents[1]


def main(sweep: Path) -> None:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    png = ROOT / "docs/papers/img/zhong2023_share_sensitivity.png"
    out = share_report(sweep, png)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    data = ROOT / "docs/data/zhong/share_sensitivity.json"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {data.relative_to(ROOT)} and {png.relative_to(ROOT)} ({out['wall_s']:.0f} s, {out['n']} runs)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
