"""The report draws what analysis produced and computes no measure of its own.

Two checks, each shown to fail on a planted violation:
  - numbers: the report of a run shows the same numbers before `grokscope analyze` (it calls the
    analysis functions itself) and after (it reads analysis.parquet / analysis.json), and they are
    the numbers analyze wrote;
  - source: no module of `grokscope.report` calls a numeric kernel (FFT, linear algebra, matrix
    products, trigonometry, autograd / a model's forward), aggregates in SQL, or writes a column
    or summary key that analysis writes (it may only read them).
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import pytest
from tests.helpers import tiny_mlp, tiny_transformer

import grokscope
import grokscope.events
from grokscope.analysis.pipeline import ANALYSIS_JSON, analyze_run
from grokscope.report import data as report_data
from grokscope.report import figures as report_figures

REPORT_PKG = Path(report_data.__file__).parent
FRAMES = 100  # more than the runs' checkpoints: the report's series then covers every checkpoint


def _collect(run):
    data = report_data.collect(run.path, max_frames=FRAMES)
    figs = {**report_figures.curves(data), **report_figures.heatmaps(data)}
    return data, figs


@pytest.fixture(scope="module", params=["mlp", "transformer"])
def before_after(request, tmp_path_factory):
    """(run, report before analyze, report after analyze, the Analysis) of a tiny run."""
    cfg = (tiny_mlp("train.checkpoint_every=25", "train.eval_every=25") if request.param == "mlp"
           else tiny_transformer())
    run = grokscope.run(cfg, out=tmp_path_factory.mktemp("runs"))
    before = _collect(run)
    analysis = analyze_run(run.path)
    return run, before, _collect(run), analysis


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    return a == b


def differences(before, after) -> list[str]:
    """Every number the report showed before analyze that it shows differently (or no longer) after:
    per-checkpoint series, events, clock/pizza measures and every trace of every figure."""
    (b, bfigs), (a, afigs) = before, after
    out = []
    if b.series.get("step") != a.series.get("step"):
        out.append(f"series steps {b.series.get('step')} != {a.series.get('step')}")
    for col, values in b.series.items():
        if col not in a.series or not all(map(_close, values, a.series[col])):
            out.append(f"series {col}")
    for key, value in b.events.items():
        if not _close(value, a.events.get(key)):
            out.append(f"event {key}: {value} != {a.events.get(key)}")
    for key, value in b.algorithms.items():
        if key != "source" and not _close(value, a.algorithms.get(key)):
            out.append(f"algorithm {key}: {value} != {a.algorithms.get(key)}")
    for fig_id, spec in bfigs.items():
        traces = {t.get("name", i): t for i, t in enumerate(afigs.get(fig_id, {}).get("data", []))}
        for i, t in enumerate(spec["data"]):
            other = traces.get(t.get("name", i))
            for axis in ("x", "y", "z"):
                if other is None or json.dumps(t.get(axis)) != json.dumps(other.get(axis)):
                    out.append(f"figure {fig_id} trace {t.get('name', i)} {axis}")
                    break
    return out


def test_the_report_shows_the_same_numbers_before_and_after_analyze(before_after):
    run, before, after, analysis = before_after
    (b, _), (a, _) = before, after
    assert "analysis.parquet" not in b.series_source and "analysis.parquet" in a.series_source
    assert b.series["step"] == run.checkpoint_steps()  # every checkpoint, as analyze
    for col in ("restricted_loss_test", "excluded_loss_train", "gini_embed", "gini_W_L", "sum_sq_weights"):
        assert col in b.series, col  # the report computed these before analyze ...
    assert differences(before, after) == []  # ... and shows the same numbers after it
    if run.config.model.arch == "transformer":
        assert {"gradient_symmetricity", "distance_irrelevance", "fve_clock"} <= set(b.algorithms)


def test_the_numbers_are_the_ones_analyze_wrote(before_after):
    run, (b, _), _, analysis = before_after
    table = analysis.table
    for col in b.series:
        if col in table and table[col].dtype.kind in "fiub":
            assert b.series[col] == report_data.sig(table[col].to_numpy(dtype=float)), col
    written = json.loads((run.path / ANALYSIS_JSON).read_text())
    for key in ("t_mem_end", "t_circuit", "t_cleanup", "liu_phase", "key_freqs"):
        assert b.events[key] == written[key], key
    last = table.iloc[-1]
    for key, value in b.algorithms.items():
        if key != "source":
            assert _close(value, last[key] if isinstance(value, str) else float(last[key])), key


def test_the_wave_fit_scores_are_the_analysis_periodicity_scores(before_after):
    """The fit quality shown over each neuron wave is analysis' periodicity score of that vector (the
    neuron table's), and a fit is drawn exactly where it exceeds analysis' structured threshold."""
    from grokscope.analysis.neurons import default_thresholds, neuron_table
    from grokscope.analysis.views import neuron_input_weights, neuron_output_weights, unstack

    run, (b, _), _, _ = before_after
    hi, lo = default_thresholds(b.n)
    assert b.fit_hi == hi and b.frames
    for step, frame in zip(b.frame_steps, b.frames, strict=True):
        params = unstack(run.params(step))
        W_a, W_b = neuron_input_weights(params, run.config.model, b.n)
        t = neuron_table(W_a, W_b, neuron_output_weights(params, run.config.model), hi, lo)
        for i, row in zip(b.neurons, frame["waves"], strict=True):
            scores = [t[k][i] for k in ("periodicity_a", "periodicity_b", "periodicity_out")]
            assert [w["score"] for w in row] == report_data.sig(scores, 3)
            assert [w["fit"] for w in row] == [bool(x > hi) for x in scores]


def test_the_comparison_fails_when_the_report_computes_its_own_numbers(before_after, monkeypatch):
    """The control: a report whose Gini is not analysis' (a planted second formula) is caught."""
    from grokscope.analysis import progress

    run, _, after, _ = before_after
    (run.path / "analysis.parquet").rename(run.path / "hidden.parquet")
    (run.path / ANALYSIS_JSON).rename(run.path / "hidden.json")
    try:
        monkeypatch.setattr(progress, "gini", lambda c: float(max(c) / sum(c)))  # a "Gini" of the report's own
        planted = _collect(run)
    finally:
        (run.path / "hidden.parquet").rename(run.path / "analysis.parquet")
        (run.path / "hidden.json").rename(run.path / ANALYSIS_JSON)
    found = differences(planted, after)
    assert "series gini_W_L" in found and any(f.startswith("figure fig-gini") for f in found)


# ---------------------------------------------------------------- the source check

# calls that compute rather than draw: spectra, linear algebra, products, trigonometry, statistics,
# gradients and a model's forward pass (by the called name, whatever module it comes from)
KERNELS = frozenset({
    "fft", "rfft", "irfft", "ifft", "fft2", "rfft2", "svd", "eig", "eigh", "eigvalsh", "lstsq", "pinv", "solve",
    "norm", "dot", "matmul", "tensordot", "einsum", "inner", "outer", "cos", "sin", "tan", "arctan2", "angle",
    "exp", "log", "sqrt", "std", "var", "cov", "corrcoef", "grad", "backward", "forward"})
SQL_AGGREGATE = re.compile(r"\b(min|max|avg|sum|count|median|quantile\w*|arg_min|arg_max|first|last)\s*\(|\bfilter\s*\(",
                           re.I)


def source_violations(source: str, name: str, analysis_keys: set[str]) -> list[str]:
    """What in `source` computes a measure (module docstring): numeric kernels, `@`, any `.fft` /
    `.linalg` namespace, SQL aggregates, and writes of a key in `analysis_keys` (a dict entry with
    a computed value, or `x[key] = ...`)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        at = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            out.append(f"{at} matrix product @")
        elif isinstance(node, ast.Attribute) and node.attr in ("fft", "linalg"):
            out.append(f"{at} .{node.attr}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            mods = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            mods += [a.name for a in node.names]
            out += [f"{at} imports {m}" for m in mods if m.split(".")[0] == "scipy" or {"fft", "linalg"} & set(m.split("."))]
        elif isinstance(node, ast.Call):
            fn = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if fn in KERNELS:
                out.append(f"{at} calls {fn}()")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"\bselect\b", node.value, re.I)
              and SQL_AGGREGATE.search(node.value)):
            out.append(f"{at} aggregates in SQL")
        if isinstance(node, ast.Dict):
            out += [f"{at} writes {k.value}" for k, v in zip(node.keys, node.values)
                    if isinstance(k, ast.Constant) and k.value in analysis_keys and not isinstance(v, ast.Constant)]
        elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.slice, ast.Constant)
              and node.slice.value in analysis_keys):
            out.append(f"{at} writes {node.slice.value}")
    return out


@pytest.fixture(scope="module")
def analysis_keys(before_after):
    """The columns and summary keys analysis wrote for the run, less the row's `step`, the run id
    and the labels named after `grokscope.events` functions (any layer may apply those)."""
    analysis = before_after[3]
    return (set(analysis.table.columns) | set(analysis.summary)) - {"step", "run_id"} - set(grokscope.events.__all__)


def test_report_modules_compute_no_measure(analysis_keys):
    assert {"gini_W_L", "restricted_loss_test", "t_mem_end", "n_structured"} <= analysis_keys
    found = [v for f in sorted(REPORT_PKG.glob("*.py")) for v in source_violations(f.read_text(), f.name, analysis_keys)]
    assert found == []


PLANTED = {  # what the report computed before it drew analysis' numbers, one pattern per line
    "X = np.fft.rfft(x, axis=0)[1:]": ".fft",
    "evals, evecs = torch.linalg.eigh(X @ X.T)": "matrix product @",
    "from numpy.linalg import norm": "imports numpy.linalg",
    "u = a / (norm(a) or 1.0)": "calls norm()",
    "t = np.cos(2 * np.pi * k * x / n)": "calls cos()",
    "out['gini_embed'] = gini(freq_norms(E))": "writes gini_embed",
    "row = {'step': s, 'sum_sq_weights': sum_sq_weights(one)}": "writes sum_sq_weights",
    "events['t_mem_end'] = nanda(rows)['t_mem_end']": "writes t_mem_end",
    "logits = model.forward(params, a, b)": "calls forward()",
    "con.execute(\"SELECT run_id, min(step) FILTER (WHERE value >= $1) FROM metrics GROUP BY run_id\")":
        "aggregates in SQL",
}


@pytest.mark.parametrize("line", sorted(PLANTED))
def test_the_source_check_catches_a_planted_violation(line, analysis_keys):
    found = source_violations(line, "planted.py", analysis_keys)
    assert any(PLANTED[line] in v for v in found), found


def test_the_source_check_leaves_reading_and_drawing_alone(analysis_keys):
    clean = "\n".join([
        "series = {c: sig(table[c].tolist()) for c in table.columns}",
        "labels = {'gini_W_L': 'Gini, W_L freqs'}",  # a label for a key is not a value of it
        "y = s['gini_W_L']",
        "lay['xaxis']['range'] = [0, math.log10(max(steps))]",
        "con.execute('SELECT * FROM runs')",
        "df['liu_phase'] = df.apply(lambda r: liu_phase(rows[r.run_id], threshold, delay), axis=1)",
    ])
    assert source_violations(clean, "clean.py", analysis_keys) == []
