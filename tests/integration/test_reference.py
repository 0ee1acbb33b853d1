"""The engine against an independent transcription in plain PyTorch (nn.Linear on the dense
two-hot input, F.cross_entropy, torch.optim.AdamW), in float64 from the same initial weights:
the same metrics at every evaluated step. This pins the engine's behaviour to the recipe's
definition, whatever its fast paths, stacking or refactors do (float64, so it holds on any CPU;
measured: |Δ| ≤ 9e-16 over 150 steps on an AMD EPYC, while a 10% change of weight decay in
the reference moves the metrics by 3.6%)."""

import pytest
import torch
import torch.nn.functional as F
from tests.helpers import tiny_mlp

from grokscope.tasks import make_split, make_task
from grokscope.train import MemorySink, train


def _reference(cfg, init: dict[str, torch.Tensor], eval_steps: list[int]) -> list[dict[str, float]]:
    task, split = make_task(cfg.task), make_split(cfg.task, make_task(cfg.task))
    p = task.n
    x = torch.cat([F.one_hot(torch.from_numpy(task.a), p), F.one_hot(torch.from_numpy(task.b), p)], 1).double()
    y = torch.from_numpy(task.c)
    tr, te = torch.from_numpy(split.train_idx), torch.from_numpy(split.test_idx)
    hidden, out = torch.nn.Linear(2 * p, cfg.model.d_mlp).double(), torch.nn.Linear(cfg.model.d_mlp, p).double()
    with torch.no_grad():  # nn.Linear stores [out, in]; the engine's W_a/W_b/W_out are [in, out]
        hidden.weight.copy_(torch.cat([init["W_a"], init["W_b"]]).T)
        hidden.bias.copy_(init["b_in"])
        out.weight.copy_(init["W_out"].T)
        out.bias.copy_(init["b_out"])
    model = torch.nn.Sequential(hidden, torch.nn.ReLU(), out)
    o = cfg.optim
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps,
                            weight_decay=o.weight_decay)
    rows = []
    for step in range(max(eval_steps) + 1):
        if step in eval_steps:
            with torch.no_grad():
                logits = model(x)
                rows.append({"train_loss": F.cross_entropy(logits[tr], y[tr]).item(),
                             "test_loss": F.cross_entropy(logits[te], y[te]).item(),
                             "train_acc": (logits[tr].argmax(1) == y[tr]).double().mean().item(),
                             "test_acc": (logits[te].argmax(1) == y[te]).double().mean().item()})
        opt.zero_grad()
        F.cross_entropy(model(x[tr]), y[tr]).backward()
        opt.step()
    return rows


@pytest.mark.parametrize("sets", [(), ("optim.weight_decay=0.1", "task.split=random", "train.seed=3")])
def test_engine_equals_a_plain_pytorch_transcription_of_the_recipe(sets):
    cfg = tiny_mlp("train.steps=150", "train.stop_test_acc=1.1", "train.checkpoint_log_points=0",
                   "train.checkpoint_every=150", *sets)
    sink = MemorySink()
    train([cfg], [sink], dtype=torch.float64)
    init = {k: v.double() for k, v in sink.checkpoints[(0, "scheduled")].items()}
    ref = _reference(cfg, init, [r["step"] for r in sink.rows])
    assert len(ref) == len(sink.rows) > 5
    for ours, theirs in zip(sink.rows, ref):
        for key, value in theirs.items():
            assert ours[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (ours["step"], key)
    assert sink.rows[-1]["train_acc"] > sink.rows[0]["train_acc"]  # it trained
