"""Shared pieces of the reproductions: the comparison table, the claims, training-with-reuse, writing results.

A reproduction returns a `Result`: rows of (quantity, paper, ours, |diff|), free-form `data` (the
raw numbers the tests assert on), `claims` (the paper's claims, each ✓ / ✗ / not tested at this
scale, with the number it rests on) and notes. `over_seeds` merges the Results of several
replicates into one whose claims say in how many seeds each held, with the numbers' mean and spread.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


NOT_TESTED = "not tested at this scale"


@dataclass
class Claim:
    """One claim of the paper as a check. `ok` None = not tested at this scale (the regime or the budget
    that would show it was not run). `value` is the number the verdict rests on (`rests_on` says what it
    is); over seeds, `values` holds one per seed and `holds` counts the seeds where the claim held."""

    text: str
    ok: bool | None
    value: float | None = None
    rests_on: str = ""
    values: list[float | None] = field(default_factory=list)
    holds: int = 0

    def __post_init__(self) -> None:
        if not self.values:
            self.values = [self.value]
            self.holds = int(bool(self.ok))

    @property
    def seeds(self) -> int:
        return len(self.values)

    @property
    def status(self) -> str:
        return NOT_TESTED if self.ok is None else ("✓" if self.ok else "✗")

    def measured(self) -> list[float]:
        """The seeds' values that were measured (finite)."""
        return [v for v in self.values if v is not None and math.isfinite(v)]

    def spread(self) -> tuple[float, float] | None:
        vals = self.measured()
        return (min(vals), max(vals)) if vals else None

    def shown_value(self) -> str:
        """'mean [min–max]' over seeds (one number for one seed), '—' when nothing was measured."""
        vals, spread = self.measured(), self.spread()
        if spread is None:
            return "—"
        if len(vals) == 1:
            return fmt(vals[0])
        return f"{fmt(statistics.fmean(vals))} [{fmt(spread[0])}–{fmt(spread[1])}]"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status, "seeds": self.seeds, "spread": self.spread(),
                "shown_value": self.shown_value()}


@dataclass
class Result:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quick: bool = False
    wall_s: float = 0.0
    seed: int = 0  # the (first) replicate (see `replicate`); 0 = the published runs
    seeds: list[int] = field(default_factory=list)  # the replicates the claims were read over
    replicates: list[Result] = field(default_factory=list)  # one Result per seed, when over several

    def claim(self, text: str, ok: bool | None, value: float | None = None, rests_on: str = "") -> None:
        """Add a claim: `ok` None when this scale cannot test it; `value` the number the verdict rests on.
        The text must not contain measured numbers (it is the key that matches a claim across seeds)."""
        self.claims.append(Claim(text, None if ok is None else bool(ok),
                                 None if value is None else float(value), rests_on))

    @property
    def checks(self) -> dict[str, bool]:
        """{claim: held (in every seed)} for the claims tested at this scale."""
        return {c.text: c.ok for c in self.claims if c.ok is not None}

    def add(self, quantity: str, paper: float | None, ours: float | None, **kw: Any) -> None:
        self.rows.append(Row(quantity, None if paper is None else float(paper), None if ours is None else float(ours), **kw))

    def largest(self) -> Row | None:
        rows = [r for r in self.rows if r.diff is not None and r.in_largest]
        return max(rows, key=lambda r: r.scaled_diff) if rows else None

    def to_dict(self) -> dict[str, Any]:
        big = self.largest()
        return {"name": self.name, "title": self.title, "quick": self.quick, "seed": self.seed,
                "seeds": self.seeds or [self.seed], "wall_s": self.wall_s,
                "rows": [r.to_dict() for r in self.rows], "claims": [c.to_dict() for c in self.claims],
                "checks": self.checks, "notes": self.notes,
                "largest_diff": None if big is None else big.to_dict(), "data": self.data,
                "replicates": [{"seed": r.seed, "claims": [c.to_dict() for c in r.claims], "data": r.data}
                               for r in self.replicates]}


def over_seeds(results: Sequence[Result]) -> Result:
    """One Result from the replicates' Results (first seed first): its rows, data and notes; each claim
    held in every seed where it was tested (✓), failed in one (✗), or was tested in none (not tested),
    with its value per seed. A claim missing from a seed counts as not tested there."""
    first = results[0]
    if len(results) == 1:
        first.seeds = [first.seed]
        return first
    texts = list(dict.fromkeys(c.text for r in results for c in r.claims))
    by_seed = [{c.text: c for c in r.claims} for r in results]
    claims = []
    for text in texts:
        own = [b.get(text) for b in by_seed]
        tested = [c for c in own if c is not None and c.ok is not None]
        ok = None if not tested else all(c.ok for c in tested)
        rests_on = next((c.rests_on for c in own if c is not None and c.rests_on), "")
        claims.append(Claim(text, ok, rests_on=rests_on, values=[None if c is None else c.value for c in own],
                            holds=sum(bool(c is not None and c.ok) for c in own)))
    return Result(first.name, first.title, rows=first.rows, data=first.data, claims=claims, notes=first.notes,
                  quick=first.quick, seed=first.seed, seeds=[r.seed for r in results], replicates=list(results))


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
    if result.claims:
        seeds = len(result.seeds or [result.seed])
        claims = Table(title=f"claims over {seeds} seed{'s' if seeds > 1 else ''}", title_justify="left")
        for col, just in (("", "left"), ("claim", "left"), ("held in", "right"), ("rests on", "left"),
                          ("value (mean [min–max])", "right")):
            claims.add_column(col, justify=just)
        for c in result.claims:
            mark = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[yellow]–[/yellow]"}[c.ok]
            held = NOT_TESTED if c.ok is None else f"{c.holds}/{c.seeds}"
            claims.add_row(mark, c.text, held, c.rests_on, c.shown_value())
        console.print(claims)
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]", highlight=False)


def claims_markdown(doc: dict[str, Any]) -> str:
    """The claims of a reproduce.json as a markdown table (the docs pages' "Claims" sections)."""
    seeds = doc.get("seeds") or [doc.get("seed", 0)]
    form = "quick" if doc.get("quick") else "full"
    lines = [f"{form} form, seeds {', '.join(map(str, seeds))}, {doc.get('wall_s', 0):.0f} s of wall",
             "", "| | claim | held in | rests on | value: mean [min–max] over seeds |", "|---|---|---|---|---|"]
    for c in doc["claims"]:
        held = c["status"] if c["ok"] is None else f"{c['holds']}/{c['seeds']}"
        mark = {True: "✓", False: "✗", None: "–"}[c["ok"]]
        lines.append(f"| {mark} | {c['text']} | {held} | {c['rests_on']} | {c['shown_value']} |".replace("\n", " "))
    return "\n".join(lines) + "\n"


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


def first_replicate(out: Path) -> bool:
    """Whether `out` is the lowest-numbered of the replicate folders `reproduce(seeds=N)` writes side by side
    (`<root>/seed<N>`; any other folder: True): a multi-seed reproduction draws its figures there only."""
    n = out.name[4:]
    if not (out.name.startswith("seed") and n.isdigit()):
        return True
    return not any(p.name[4:].isdigit() and int(p.name[4:]) < int(n) for p in out.parent.glob("seed*"))


class Deferred(BaseException):
    """Raised by `train_or_reuse` while `deferring`: runs are missing; they were added to the pending list.
    A BaseException (like GeneratorExit: control flow, not an error), so no `except Exception` swallows it."""


_pending: list[tuple[RunConfig, Path]] | None = None  # set while `deferring` (one process, one reproduction)


@contextmanager
def deferring(pending: list[tuple[RunConfig, Path]]) -> Iterator[None]:
    """While inside, `train_or_reuse` trains nothing: it returns when every run is finished and otherwise
    appends the missing (config, path) pairs to `pending` and raises `Deferred`. `reproduce` uses it to
    train several seeds' runs as one ensemble stack (`lifecycle.finish` stacks same-shape configs)."""
    global _pending
    _pending = pending
    try:
        yield
    finally:
        _pending = None


def train_or_reuse(cfgs: Sequence[RunConfig], paths: Sequence[Path]) -> list[Path]:
    """Bring the runs to finished (`grokscope.lifecycle`, policy resume): finished runs of the same
    config are reused, interrupted ones continue from their saved state (as ensembles of the
    models saved at the same step), so a killed multi-hour reproduction loses at most one
    checkpoint interval when re-run; a directory holding another config is trained again."""
    from grokscope.lifecycle import Policy, finish, plan
    from grokscope.report.curves import write_curves

    if _pending is not None:
        jobs, _ = plan(cfgs, [Path(p) for p in paths], Policy.resume)
        if jobs:
            _pending.extend((job.cfg, job.path) for job in jobs)
            raise Deferred
        return [Path(p) for p in paths]
    t0 = time.perf_counter()
    status = finish(cfgs, [Path(p) for p in paths], Policy.resume)
    trained = [p for p, s in status.items() if s != "skipped"]
    for p in trained:
        write_curves(p)  # curves.png of each run (never raises)
    if trained:
        log.info("trained %d model(s) in %.1fs", len(trained), time.perf_counter() - t0)
    return [Path(p) for p in paths]
