"""The Ray backend writes the same store as the local backend for the same spec."""

import pytest

from grokscope.store.db import query
from grokscope.sweep.runner import run_sweep
from grokscope.sweep.spec import parse_spec

ray = pytest.importorskip("ray")

SPEC = {"base": "swaroop2026", "seeds": 2, "grid": {"optim.weight_decay": [0.1, 1.0]},
        "set": {"task": {"p": 7, "frac_train": 0.6}, "model": {"d_mlp": 16},
                "train": {"steps": 60, "eval_every": 20, "eval_log_points": 3}}}
COLS = "run_id, status, t_train99, t_val99, final_step, final_train_acc, final_test_acc, final_test_loss, liu_phase"


@pytest.fixture
def local_ray():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the Ray workers: one thread each
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    torch.set_num_threads(before)


def test_ray_backend_equals_local_backend(tmp_path, local_ray):
    spec = parse_spec(SPEC, name="r")
    ray_res = run_sweep(spec, tmp_path / "ray", backend="ray", workers=2)
    local_res = run_sweep(spec, tmp_path / "local", backend="local", workers=0)
    assert ray_res.finished == local_res.finished == 4 and ray_res.failed == 0
    assert ray.is_initialized()  # a Ray it did not start is left running
    a = query(f"select {COLS} from runs order by run_id", tmp_path / "ray")
    b = query(f"select {COLS} from runs order by run_id", tmp_path / "local")
    assert list(a.run_id) == list(b.run_id) == sorted(ray_res.run_ids)
    for col in ("status", "t_train99", "t_val99", "final_step", "final_train_acc", "final_test_acc", "liu_phase"):
        assert a[col].tolist() == b[col].tolist(), col
    assert ((a.final_test_loss - b.final_test_loss).abs() <= 1e-5 * b.final_test_loss.abs() + 1e-9).all()
    # resuming under Ray skips what is done
    again = run_sweep(spec, tmp_path / "ray", backend="ray", workers=2)
    assert again.skipped == 4 and again.finished == 4
