"""The notebooks in notebooks/: stored without outputs, and each runs top to bottom (nbclient).

Each notebook asserts what it shows (the run grokked, the phase-sum holds, the exported
TransformerLens model computes grokscope's logits), so executing it is the test. They train real
models for 10–40 s each, hence the slow tier; the outputs check is fast.
"""

import importlib.util
import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert {"01_run_analysis.ipynb", "02_sweep_phase_store.ipynb", "03_transformer_lens.ipynb"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    nb = json.loads((NOTEBOOKS / name).read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{name} cell {i} has outputs"
    assert set(nb.get("metadata", {})) <= {"kernelspec", "language_info"}, nb["metadata"]


def _skip_reason(name: str) -> tuple[str | None, bool]:
    """(why the notebook cannot run here or None, whether CI must have it)."""
    for mod in ("nbclient", "ipykernel"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed (pip install -e '.[notebooks]')", True
    if name.startswith("03_"):
        if importlib.util.find_spec("transformer_lens") is None:
            return "transformer_lens is not installed (pip install -e '.[tl]')", False
        from grokscope.store.run import Run

        if importlib.util.find_spec("grokscope.interop") is None or not hasattr(Run, "to_transformer_lens"):
            return "grokscope.interop / Run.to_transformer_lens is not available yet", False
    return None, False


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, tmp_path, monkeypatch):
    reason, required = _skip_reason(name)
    if reason and required and os.environ.get("GROKSCOPE_REQUIRE_NOTEBOOKS") == "1":
        pytest.fail(f"notebook tests required but {reason}")  # CI: nbclient / ipykernel must be there
    if reason:
        pytest.skip(reason)
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("GROKSCOPE_NB_OUT", str(tmp_path))  # the kernel inherits the environment
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{name} drew no figure"
    if out := os.environ.get("GROKSCOPE_NB_EXECUTED"):  # keep the executed copy (e.g. for a look)
        Path(out).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(out) / name)
