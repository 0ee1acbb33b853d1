"""The notebooks in notebooks/: committed executed (a reader sees the outputs on GitHub without running
anything), and each runs top to bottom (nbclient).

Each notebook asserts what it shows (the run grokked, the phase-sum holds, the exported
TransformerLens model computes grokscope's logits), so executing it is the test. They train real
models for 10–40 s each, hence the slow tier; the check of the committed outputs is fast.

To execute them again and commit the result:
`GROKSCOPE_NB_EXECUTED=notebooks python -m pytest -m slow tests/notebooks` (the kernel runs in a temporary
folder and writes its files under the relative `out/`, so no path of this machine lands in an output).
"""

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert {"01_run_analysis.ipynb", "02_sweep_phase_store.ipynb", "03_transformer_lens.ipynb"} <= set(NAMES)


# a path that exists on one machine only (a temporary folder, a home or work directory)
_MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|tmp|root|home|Users|scratch|mnt|private|var/folders)/")
MAX_BYTES = 250_000  # per notebook, outputs included: figures are downscaled PNGs, tables short


def _output_text(output) -> str:
    if output["output_type"] == "stream":
        return "".join(output["text"])
    return "".join("".join(v) if isinstance(v, list) else str(v)
                   for k, v in output.get("data", {}).items() if k.startswith("text/"))


def _check_executed(nb, name: str):
    """Executed top to bottom in one kernel, a figure shown, no error, no traceback, no path of this machine."""
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert [cell.get("execution_count") for cell in code] == list(range(1, len(code) + 1)), f"{name} is not executed"
    outputs = [o for cell in code for o in cell.get("outputs", [])]
    assert outputs, f"{name} has no outputs"
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{name} shows no figure"
    for i, cell in enumerate(code):
        for o in cell.get("outputs", []):
            assert o["output_type"] != "error", f"{name} code cell {i}: {o.get('ename')}: {o.get('evalue')}"
            text = _output_text(o)
            assert "Traceback (most recent call last)" not in text, f"{name} code cell {i} shows a traceback"
            assert not _MACHINE_PATH.search(text), f"{name} code cell {i} shows a path of one machine: {text[:200]}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_executed_without_errors(name):
    path = NOTEBOOKS / name
    assert path.stat().st_size <= MAX_BYTES, f"{name} is {path.stat().st_size:,} bytes (downscale its figures)"
    nb = json.loads(path.read_text())
    _check_executed(nb, name)
    assert set(nb.get("metadata", {})) <= {"kernelspec", "language_info"}, nb["metadata"]


def test_the_committed_outputs_check_catches_errors_and_paths():
    cell = lambda outputs, n: {"cell_type": "code", "execution_count": n, "outputs": outputs}
    png = {"output_type": "display_data", "data": {"image/png": "iVBOR"}}
    good = {"cells": [cell([png], 1), cell([], 2)]}
    _check_executed(good, "good")
    bad = [{"cells": [cell([png], 1), cell([], None)]},  # not executed to the end
           {"cells": [cell([png, {"output_type": "error", "ename": "E", "evalue": "x", "traceback": []}], 1)]},
           {"cells": [cell([png, {"output_type": "stream", "name": "stdout", "text": "PosixPath('/tmp/x')"}], 1)]},
           {"cells": [cell([{"output_type": "stream", "name": "stdout", "text": "no figure"}], 1)]}]
    for nb in bad:
        with pytest.raises(AssertionError):
            _check_executed(nb, "bad")


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

    # the kernel inherits the environment and runs in tmp_path: files go to tmp_path/out, printed as "out"
    monkeypatch.setenv("GROKSCOPE_NB_OUT", "out")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    _check_executed(nb, name)  # what would be committed: a figure, no error, no path of this machine
    if out := os.environ.get("GROKSCOPE_NB_EXECUTED"):  # keep the executed copy (notebooks/ to commit it)
        nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
        Path(out).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(out) / name)
