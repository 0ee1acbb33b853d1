"""Shared pieces of the reproductions: the comparison table, training-with-reuse, writing results.

A reproduction returns a `Result`: rows of (quantity, paper, ours, |diff|), free-form `data` (the
raw numbers the tests assert on), `checks` (qualitative claims, each True/False) and notes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grokscope.config import RunConfig
from grokscope.store.files import jsonable, write_json
from grokscope.store.names import REPRODUCE

log = logging.getLogger(__name__)


@dataclass
class Row:
    """One compared quantity. `paper` is a number (or None when the paper gives none);
    `relation` says how to read it: 'eq' (|diff| = |ours − paper|), 'ge'/'le' (a bound: the
    difference is how far ours falls on the wrong side, 0 when the bound holds)."""

    quantity: str
    paper: float | None
    ours: float | None
    relation: str = "eq"  # eq | ge | le
    paper_text: str | None = None  # shown instead of the number (e.g. "< 1e-4")
    group: str = ""
    in_largest: bool = True  # False for statistics on another scale (t values, losses)
    relative: bool = False  # compare |diff| / |paper| in `largest` (steps, counts)

    @property
    def diff(self) -> float | None:
        if self.paper is None or self.ours is None or not math.isfinite(self.ours):
            return None
        if self.relation == "ge":
            return max(0.0, self.paper - self.ours)
        if self.relation == "le":
            return max(0.0, self.ours - self.paper)
        return abs(self.ours - self.paper)

    @property
    def scaled_diff(self) -> float:
        d = self.diff or 0.0
        return d / abs(self.paper) if self.relative and self.paper else d

    def shown_paper(self) -> str:
        if self.paper_text is not None:
            return self.paper_text
        if self.paper is None:
            return "—"
        prefix = {"ge": "≥ ", "le": "≤ "}.get(self.relation, "")
        return prefix + fmt(self.paper)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "diff": self.diff, "paper_shown": self.shown_paper()}


@dataclass
class Result:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    quick: bool = False
    wall_s: float = 0.0
    seed: int = 0  # the replicate (see `replicate`); 0 = the published runs

    def add(self, quantity: str, paper: float | None, ours: float | None, **kw: Any) -> None:
        self.rows.append(Row(quantity, None if paper is None else float(paper), None if ours is None else float(ours), **kw))

    def largest(self) -> Row | None:
        rows = [r for r in self.rows if r.diff is not None and r.in_largest]
        return max(rows, key=lambda r: r.scaled_diff) if rows else None

    def to_dict(self) -> dict[str, Any]:
        big = self.largest()
        return {"name": self.name, "title": self.title, "quick": self.quick, "seed": self.seed, "wall_s": self.wall_s,
                "rows": [r.to_dict() for r in self.rows], "checks": self.checks, "notes": self.notes,
                "largest_diff": None if big is None else big.to_dict(), "data": self.data}


def fmt(x: float | None) -> str:
    if x is None:
        return "—"
    if isinstance(x, float) and not math.isfinite(x):
        return "nan"
    if x == int(x) and abs(x) >= 10:
        return f"{int(x)}"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.1e}"
    return f"{x:.4g}"


def print_result(result: Result, console: Any) -> None:
    """The rich comparison table, the largest difference and the qualitative checks."""
    from rich.table import Table

    table = Table(title=result.title + (" [quick]" if result.quick else ""), title_justify="left")
    for col, just in (("quantity", "left"), ("paper", "right"), ("ours", "right"), ("|diff|", "right")):
        table.add_column(col, justify=just)
    group = None
    for r in result.rows:
        if r.group != group and group is not None:
            table.add_section()
        group = r.group
        d = r.diff
        table.add_row(r.quantity, r.shown_paper(), fmt(r.ours), "" if d is None else fmt(d))
    console.print(table)
    big = result.largest()
    if big is not None:
        rel = f" = {big.scaled_diff:.0%} of the paper's value" if big.relative else ""
        console.print(f"largest difference (steps and counts relative; t-statistics and losses aside): "
                      f"{fmt(big.diff)}{rel} — {big.quantity} (paper {big.shown_paper()}, ours {fmt(big.ours)})",
                      highlight=False)
    for claim, ok in result.checks.items():
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        console.print(f"{mark} {claim}", highlight=False)
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]", highlight=False)


def write_result(result: Result, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPRODUCE
    write_json(path, jsonable(result.to_dict()))
    return path


def replicate(cfg: RunConfig, seed: int) -> RunConfig:
    """The same experiment on an independent replicate: init seed and data seed (split, noise)
    both shifted by `seed`; seed 0 returns `cfg` unchanged. The tests measure each claim's spread
    over replicates to set thresholds that hold on any CPU."""
    if seed == 0:
        return cfg
    return cfg.override([f"train.seed={cfg.train.seed + seed}", f"task.data_seed={cfg.task.data_seed + seed}"])


def train_or_reuse(cfgs: Sequence[RunConfig], paths: Sequence[Path]) -> list[Path]:
    """Bring the runs to finished (`grokscope.lifecycle`, policy resume): finished runs of the same
    config are reused, interrupted ones continue from their saved state (as ensembles of the
    models saved at the same step), so a killed multi-hour reproduction loses at most one
    checkpoint interval when re-run; a directory holding another config is trained again."""
    from grokscope.lifecycle import Policy, finish
    from grokscope.report.curves import write_curves

    t0 = time.perf_counter()
    status = finish(cfgs, [Path(p) for p in paths], Policy.resume)
    trained = [p for p, s in status.items() if s != "skipped"]
    for p in trained:
        write_curves(p)  # curves.png of each run (never raises)
    if trained:
        log.info("trained %d model(s) in %.1fs", len(trained), time.perf_counter() - t0)
    return [Path(p) for p in paths]
