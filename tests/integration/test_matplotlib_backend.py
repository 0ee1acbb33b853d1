"""Drawing never touches the caller's matplotlib: `grokscope.run()` inside Jupyter must leave the
notebook's backend (and pyplot) alone. In a subprocess, so the backend is this test's to choose."""

import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import sys
    import matplotlib
    matplotlib.use("svg")  # stands for a notebook's inline backend: anything but Agg
    import grokscope
    from grokscope.analysis.pipeline import analyze_run
    from grokscope.report import write_analysis_figures, write_run_report

    cfg = grokscope.load_preset("swaroop2026").override(
        ["task.p=7", "task.frac_train=0.6", "model.d_mlp=16", "train.steps=40", "train.eval_every=20",
         "train.checkpoint_every=20", "train.patience=0"])
    run = grokscope.run(cfg, out=sys.argv[1])                      # curves.png + report.html
    write_analysis_figures(run.path, analyze_run(run.path, measures=["neurons"], steps=[40]))
    write_run_report(run.path)                                     # + report_figures/*.png
    for name in ("curves.png", "figures/progress.png", "figures/phase_sum.png", "report_figures/measures.png"):
        assert (run.path / name).stat().st_size > 1000, name
    assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
    assert matplotlib.rcParams["backend"] == "svg", matplotlib.rcParams["backend"]
    assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
    print("ok")
""")


@pytest.mark.slow  # a fresh interpreter drawing every figure: ~9 s
def test_drawing_leaves_the_backend_and_pyplot_alone(tmp_path):
    res = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stdout + res.stderr
