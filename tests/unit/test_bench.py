"""The benchmark package (bench/): `python -m bench --quick` runs and reports sane numbers.

No timing is compared with anything, not even with another timing (the machine is shared and
noisy): only that every table has its rows, every measured value is positive and finite, and the
FLOP formulas equal what torch's FlopCounterMode counts. The `--quick` run (~20 s) is slow-tier.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # bench/ lives at the repository root, outside the package


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


def positive_finite(x) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


@pytest.mark.slow
def test_tables_have_expected_rows(quick):
    stdout, data = quick
    for title in ("1. Swaroop MLP", "2. Nanda transformer", "3. PAIR ensembles", "4. PAIR tied-embedding",
                  "5. Dense-input tasks"):
        assert title in stdout
    sections = data["sections"]
    assert set(sections) == {"mlp", "transformer", "ensemble", "tied", "dense"}
    tied = sections["tied"]["rows"]
    assert tied[0]["impl"].startswith("eager") and [r["K"] for r in tied[1:]] == list(data["settings"]["tied_Ks"])
    dense = sections["dense"]["rows"]  # per task: eager, then grokscope at each K
    Ks = list(data["settings"]["dense_Ks"])
    assert [r["K"] for r in dense] == [1, *Ks] * 2
    assert [r["impl"].split(":")[0] for r in dense[:: len(Ks) + 1]] == ["digits (Omnigrok MNIST recipe)",
                                                                       "sparse parity (Merrill et al.)"]
    for key, n_rows in (("mlp", 3), ("transformer", 2)):  # mlp: + eager in its own process
        impls = [r["impl"] for r in sections[key]["rows"]]
        assert len(impls) == n_rows and impls[0].startswith("eager") and impls[1].startswith("grokscope")
        assert all(0 < r["pct_peak"] for r in sections[key]["rows"])  # every row has its share of the floor
        for impl in impls:
            assert impl in stdout
    ens = [r["impl"] for r in sections["ensemble"]["rows"]]
    assert ens[0].startswith("eager loop") and ens[1].startswith("grokscope loop")
    Ks = data["settings"]["ens_Ks"]
    assert [r["K"] for r in sections["ensemble"]["rows"][2:]] == Ks
    assert "fresh subprocess" in ens[2 + Ks.index(data["settings"]["rss_K"])]
    assert "same-init check" in stdout and "peak RSS" in stdout
    assert all(r["pct_floor"] > 0 for key in ("ensemble", "tied", "dense") for r in sections[key]["rows"])
    assert "CPU:" in stdout and "ATen ISA" in stdout


@pytest.mark.slow
def test_ratios_and_speeds_are_positive_finite(quick):
    _, data = quick
    s = data["sections"]
    for key in ("mlp", "transformer"):
        base = s[key]["rows"][0]
        assert base["loop_ratio"] == pytest.approx(1.0) and base["step_ratio"] == pytest.approx(1.0)
        for row in s[key]["rows"]:
            for col in ("loop_s_per_step", "loop_ratio", "step_s_per_step", "step_ratio"):
                assert positive_finite(row[col]), (key, col, row[col])
    for key in ("mlp", "transformer"):
        for row in s[key]["rows"]:
            assert positive_finite(row["gflops"]) and positive_finite(row["pct_peak"])
        assert positive_finite(s[key]["peak_gflops"])
    for key in ("floor_s_per_step", "max_step_ratio"):
        assert positive_finite(s["mlp"][key]), key
    for row in s["ensemble"]["rows"]:
        for col in ("s_per_model", "models_per_hour", "ratio"):
            assert positive_finite(row[col]), (col, row)
    for key in ("floor_s_per_model", "max_ratio"):
        assert positive_finite(s["ensemble"][key]), key
    for row in s["tied"]["rows"]:
        for col in ("s_per_step", "model_steps_per_s", "ratio"):
            assert positive_finite(row[col]), (col, row)
    rss = s["ensemble"]["rss"]
    assert all(positive_finite(v["peak_rss_mb"]) for v in rss.values())


@pytest.mark.slow
def test_every_row_has_its_share_of_the_binding_floor(quick):
    """Every row: % of the binding floor (≥ its FLOP-only share), which floor binds; every floor's
    bandwidth, bytes and both floors are in --json."""
    stdout, data = quick
    s = data["sections"]
    floors = [s[key] for key in ("mlp", "transformer", "ensemble", "tied")] + list(s["dense"]["floors"].values())
    for f in floors:
        for key in ("bw_gbs", "peak_gflops", "floor_s", "flop_floor_s", "byte_floor_s"):
            assert positive_finite(f[key]), key
        assert f["floor_s"] == max(f["flop_floor_s"], f["byte_floor_s"])
        assert f["bound"] == ("FLOPs" if f["flop_floor_s"] >= f["byte_floor_s"] else "bytes")
        assert any(k.startswith("bytes_per_") and f[k] > 0 for k in f)
    for key in s:
        for row in s[key]["rows"]:
            assert positive_finite(row["pct_floor"]) and row["pct_floor"] >= row["pct_flop_floor"]
            assert row["bound"] in ("FLOPs", "bytes")
    assert stdout.count("byte floor:") == 6  # a note per floor (dense: two tasks), each at a line's start


@pytest.mark.slow
def test_same_init_dynamics_match(quick):
    """Eager and grokscope trained from the same weights agree (the fast paths change no dynamics)."""
    _, data = quick
    mlp = data["sections"]["mlp"]["same_init_check"]
    assert mlp["abs_diff_train_loss"] < 1e-4
    tf = data["sections"]["transformer"]["same_init_check"]
    assert tf["rel_diff_train_loss"] < 1e-4
    tied = data["sections"]["tied"]["same_init_check"]  # 3 quick steps: measured 1.0e-7 relative
    assert abs(tied["eager_loss"] - tied["grokscope_loss"]) < 1e-4 * tied["eager_loss"]
    for row in data["sections"]["dense"]["rows"][::len(data["settings"]["dense_Ks"]) + 1]:
        check = row["same_init_check"]  # measured equal to 6 digits after 20 steps (digits float64, parity float32)
        assert abs(check["eager_loss"] - check["grokscope_loss"]) < 1e-4 * check["eager_loss"]


def test_flop_formulas_match_torch_flop_counter():
    """The analytic FLOP counts equal what torch's FlopCounterMode sees in both models."""
    import torch
    from bench import transformer as T
    from bench.common import QUICK, split_data
    from bench.eager import NandaTransformer
    from torch.utils.flop_counter import FlopCounterMode

    from grokscope.models import build_model

    s = QUICK
    cfg = T.config(s, 10)
    data = split_data(cfg)
    B = 5
    a, b = data.a_train[:B], data.b_train[:B]
    model = build_model(cfg.model, data.p)
    params = model.init([0])
    dm = s.tf_d_model
    # grokscope executes the re-associated forward; its scores and pattern·V (12·d_model) are
    # elementwise products that FlopCounterMode does not count, and layer 0's Q/K/V table
    # ((2p+1) rows @ [d_model, 3·d_model]) is paid once per step
    per_pair = T.reassociated_forward_flops(dm, s.tf_d_mlp, data.p) - 12 * dm
    table = 2 * (2 * data.p + 1) * dm * 3 * dm
    with FlopCounterMode(display=False) as fc:
        model.forward(params, a, b).sum().backward()
    assert fc.get_total_flops() == 3 * (B * per_pair + table)  # forward + backward = 3 x forward
    # the per-pair computation (the cache path) is the floor's count, less the elementwise attention
    useful = T.useful_forward_flops(dm, s.tf_d_mlp, data.p) - 12 * dm
    with FlopCounterMode(display=False) as fc:
        model.forward(params, a, b, cache={}).sum().backward()
    assert fc.get_total_flops() == 3 * B * useful
    eager = NandaTransformer(data.p, s.tf_d_model, s.tf_heads, s.tf_d_mlp)
    with FlopCounterMode(display=False) as fc:
        eager(torch.stack([a, b, torch.full_like(a, data.p)], dim=1))
    assert fc.get_total_flops() == B * T.eager_forward_flops(s.tf_d_model, s.tf_d_mlp, data.p)


def test_mlp_floor_counts_every_matmul_of_a_step():
    """The MLP floor's FLOPs (3 output-layer matmuls) are all the matmul work of grokscope's step."""
    from bench import mlp
    from bench.common import QUICK, split_data
    from torch.utils.flop_counter import FlopCounterMode

    from grokscope.models import build_model

    cfg = mlp.config(QUICK, 10)
    data = split_data(cfg)
    model = build_model(cfg.model, data.p)
    params = model.init([0])
    B = 7
    with FlopCounterMode(display=False) as fc:
        model.forward(params, data.a_train[:B], data.b_train[:B]).sum().backward()
    assert fc.get_total_flops() == 3 * 2 * B * QUICK.mlp_width * data.p


def test_weight_copy_makes_models_equal():
    """`load_mlp_from_stack` maps W_a/W_b/W_out onto nn.Linear so both compute the same logits."""
    import torch
    from bench import mlp
    from bench.common import QUICK, split_data
    from bench.eager import SwaroopMLP, load_mlp_from_stack, two_hot

    from grokscope.models import build_model

    cfg = mlp.config(QUICK, 10)
    data = split_data(cfg)
    model = build_model(cfg.model, data.p)
    params = model.init([3])
    eager = SwaroopMLP(data.p, cfg.model.d_mlp)
    load_mlp_from_stack(eager, params)
    with torch.no_grad():
        ours = model.forward(params, data.a_all, data.b_all)[0]
        theirs = eager(two_hot(data.a_all, data.b_all, data.p))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_roofline_takes_the_slower_floor_and_names_it():
    """The floor is the max of FLOPs at the peak and bytes at the bandwidth; `bound` names which."""
    from bench.common import floor_shares, roofline

    flop_bound = roofline(flops=2e9, bytes_=1e6, peak_gflops=100.0, bw_gbs=10.0)  # 20 ms vs 0.1 ms
    assert flop_bound["bound"] == "FLOPs"
    assert flop_bound["floor_s"] == flop_bound["flop_floor_s"] == pytest.approx(0.02)
    assert flop_bound["byte_floor_s"] == pytest.approx(1e-4)
    byte_bound = roofline(flops=1e6, bytes_=2e9, peak_gflops=100.0, bw_gbs=10.0)  # 0.01 ms vs 200 ms
    assert byte_bound["bound"] == "bytes"
    assert byte_bound["floor_s"] == byte_bound["byte_floor_s"] == pytest.approx(0.2)
    shares = floor_shares(byte_bound, seconds=0.4)  # twice the binding floor
    assert shares["pct_floor"] == pytest.approx(50.0) and shares["bound"] == "bytes"
    assert shares["pct_flop_floor"] == pytest.approx(100 * 1e-5 / 0.4)


def _engine(cfg):
    from grokscope.train import NullSink
    from grokscope.train.loop import Engine

    return Engine([cfg], [NullSink()])


def _param_and_state_bytes(engine, backward: tuple[str, ...]) -> int:
    """The parameter part counted from the engine's own tensors: forward read (P), gradient written
    (P), the update reading p, g, m, v and writing p, m, v (2·(P + S) + P), and the weights in
    `backward` read once more."""
    nbytes = lambda t: t.numel() * t.element_size()  # noqa: E731
    P = sum(nbytes(p) for p in engine.params.values())
    S = sum(nbytes(t) for name, t in engine.opt.state_tensors().items() if name != "step_count")
    return 3 * P + 2 * (P + S) + sum(nbytes(engine.params[w]) for w in backward)


@pytest.mark.parametrize("setup", ["mlp", "ensemble", "tied"])
def test_pair_step_bytes_match_the_engine_tensors(setup):
    """Each pair model's byte formula equals a count over the engine's parameters, AdamW state and
    the activations its forward returns (hidden, logits; each with a gradient: 4 passes)."""
    from bench import ensemble, mlp, tied
    from bench.common import QUICK, optimizer_states, split_data

    s = QUICK
    cfg = {"mlp": lambda: mlp.config(s, 10),
           "ensemble": lambda: ensemble.base_config(s.ens_p, s.ens_width, 10, 5),
           "tied": lambda: tied._configs(1)[0]}[setup]()
    engine, data = _engine(cfg), split_data(cfg)
    m, p, B, n_state = cfg.model, data.p, len(data.y_train), optimizer_states(cfg)
    assert n_state == 2  # AdamW: m, v
    formula = {"mlp": lambda: mlp.step_bytes(p, m.d_mlp, B, n_state),
               "ensemble": lambda: ensemble.step_bytes(p, m.d_mlp, B, n_state),
               "tied": lambda: tied.step_bytes(p, m.d_embed, m.d_mlp, B, n_state)}[setup]()
    backward = tuple(engine.params) if setup == "tied" else ("W_out",)
    cache: dict = {}
    logits = engine.model.forward(engine.params, data.a_train, data.b_train, cache=cache)
    acts = sum(t.numel() * t.element_size() for t in (cache["mlp.hook_post"], logits))
    operands = sum(t.numel() * t.element_size() for t in (data.a_train, data.b_train, data.y_train))
    assert formula == _param_and_state_bytes(engine, backward) + 4 * acts + operands


def test_dense_step_bytes_match_the_engine_tensors():
    """The dense byte formula (digits: float64, AdamW, minibatch) against the engine's tensors."""
    from bench import dense
    from bench.common import INDEX_BYTES, optimizer_states

    engine = _engine(dense._configs("omnigrok2023_digits", 1)[0])
    P = engine.params
    widths = [P["W_in"].shape[1], *(P[w].shape[2] for w in ("W_in", "hidden.1.W", "W_out"))]
    B, item = engine.batch_size, P["W_out"].element_size()
    assert item == 8
    formula = dense.step_bytes(widths, B, True, optimizer_states(engine.cfg), item)
    x = engine.data["inputs_train"]["x"][0, :B]  # one batch [B, n_in]
    acts = B * sum(P[b].shape[1] for b in ("b_in", "hidden.1.b", "b_out")) * item  # every layer's output
    assert formula == (_param_and_state_bytes(engine, ("hidden.1.W", "W_out")) + 4 * acts
                       + x.numel() * item + B * INDEX_BYTES)
