"""grokscope.forecast.Monitor fed by a plain PyTorch loop, its refusal of bad rows, and the Hugging Face
Trainer callback (grokscope.forecast.hf)."""

from __future__ import annotations

import importlib
import logging
import math
import sys
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grokscope.forecast import Forecast, ForecastError, Monitor

P = 23  # (a + b) mod 23, half the pairs for training: memorises in ~40 full-batch steps at lr 2e-2
LR, WD = 2e-2, 1.0
LABELS = {"grokking", "not grokking", "delayed, not from chance", "memorised, not generalised yet",
          "not memorised yet"}


def mod_add_split(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """All (a, b) pairs of Z_23, their answers (a + b) mod 23, and a random 50% train / 50% test split."""
    g = torch.Generator().manual_seed(seed)
    pairs = torch.cartesian_prod(torch.arange(P), torch.arange(P))
    perm = torch.randperm(P * P, generator=g)
    return pairs, pairs.sum(1) % P, perm[: P * P // 2], perm[P * P // 2:]


class TwoHotMLP(nn.Module):
    """One hidden layer of 64 ReLUs on the two-hot encoding of (a, b); HF-style forward."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * P, 64), nn.ReLU(), nn.Linear(64, P))

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        logits = self.net(F.one_hot(input_ids, P).float().flatten(1))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits, labels)
        return out


def good_row(step: float, train_acc: float = 0.5, **over: Any) -> dict[str, Any]:
    return {"step": step, "train_loss": 1.0, "train_acc": train_acc, "test_loss": 3.0, "test_acc": 0.04,
            "weight_norm": 20.0, **over}


# --- a plain PyTorch loop ---------------------------------------------------------------------------------


def test_monitor_in_a_plain_torch_loop():
    torch.manual_seed(0)
    pairs, y, tr, te = mod_add_split()
    model = TwoHotMLP()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD, betas=(0.9, 0.999))
    steps, every = 80, 5
    mon = Monitor(lr=LR, weight_decay=WD, beta2=0.999, n_classes=P, budget=steps)
    memorised, forecasts = False, 0
    for step in range(1, steps + 1):
        loss = model(pairs[tr], y[tr])["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every:
            continue
        with torch.no_grad():
            out_tr, out_te = model(pairs[tr], y[tr]), model(pairs[te], y[te])
        train_acc = (out_tr["logits"].argmax(1) == y[tr]).float().mean().item()
        fc = mon.update(step=step, train_loss=out_tr["loss"].item(), train_acc=train_acc,
                        test_loss=out_te["loss"].item(),
                        test_acc=(out_te["logits"].argmax(1) == y[te]).float().mean().item(),
                        weight_norm=Monitor.norm(model.parameters()))
        assert mon.error is None
        memorised = memorised or train_acc >= 0.99
        if not memorised:
            assert fc is None and mon.line is None, f"a forecast before memorisation at step {step}"
            continue
        assert isinstance(fc, Forecast), f"no forecast at step {step} after memorisation: {mon.line}"
        forecasts += 1
        assert fc.cut_step == step
        assert fc.low <= fc.t_val99 <= fc.high
        assert 0.0 <= fc.p_groks <= 1.0
        assert mon.line is not None and mon.line.startswith("forecast:")
    assert memorised and forecasts >= 3, "the tiny MLP should memorise well within 80 steps"
    assert [r["step"] for r in mon.rows] == list(range(every, steps + 1, every))
    assert mon.verdict().label in LABELS


def test_norm_is_the_l2_norm_of_all_parameters():
    model = TwoHotMLP()
    want = torch.cat([p.detach().flatten() for p in model.parameters()]).double().norm().item()
    assert Monitor.norm(model.parameters()) == pytest.approx(want, rel=1e-12)
    assert Monitor.norm([np.array([3.0]), np.array([4.0])]) == pytest.approx(5.0)


# --- bad rows and bad construction ------------------------------------------------------------------------


def memorised_monitor() -> Monitor:
    """A Monitor fed 10 good rows, memorised from step 50 on: its last update gave a forecast."""
    mon = Monitor(lr=1e-3, weight_decay=1.0, beta2=0.98, n_classes=P)
    for step in range(10, 101, 10):
        acc = min(1.0, step / 50)
        fc = mon.update(good_row(step, train_acc=acc, train_loss=2.0 / step, weight_norm=30.0 - step / 10))
    assert fc is not None and fc.cut_step == 100
    return mon


@pytest.mark.parametrize(("bad", "word"), [
    (good_row(110, train_loss=math.nan), "nan"),
    (good_row(110, test_loss=math.inf), "inf"),
    (good_row(90), "not after"),  # out of order
    (good_row(100), "not after"),  # repeated step
    (good_row(110, train_acc=1.5), "[0, 1]"),
    (good_row(110, test_acc=-0.1), "[0, 1]"),
    ({k: v for k, v in good_row(110).items() if k != "test_loss"}, "test_loss"),  # a missing key
    ({k: v for k, v in good_row(110).items() if k != "step"}, "step"),
    (good_row(110.5), "integer"),
    (good_row(110, weight_norm="heavy"), "weight_norm is not a number"),
    (good_row(110, train_loss=-1.0), "negative"),
    ({**good_row(110), "val_acc": 0.5}, "unknown key 'val_acc'"),  # a typo is not dropped silently
])
def test_a_bad_row_is_refused_and_training_goes_on(bad, word, caplog):
    mon = memorised_monitor()
    n = len(mon.rows)
    with caplog.at_level(logging.WARNING, logger="grokscope.forecast.monitor"):
        assert mon.update(bad) is None
    assert mon.error is not None and word in mon.error
    assert mon.line is not None and "refused" in mon.line and word in mon.line
    assert len(mon.rows) == n
    assert sum("refused" in r.getMessage() for r in caplog.records) == 1
    fc = mon.update(good_row(110, train_acc=1.0, train_loss=0.01, weight_norm=19.0))  # the next good row
    assert mon.error is None and len(mon.rows) == n + 1
    assert fc is not None and fc.cut_step == 110 and mon.line.startswith("forecast:")


def test_bad_construction_raises_before_training(tmp_path):
    with pytest.raises(ForecastError, match="family"):
        Monitor(lr=1e-3, weight_decay=1.0, n_classes=P, family="no-such-family")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{this is not json")
    with pytest.raises(ForecastError, match="corrupt"):
        Monitor(lr=1e-3, weight_decay=1.0, n_classes=P, model=str(garbage))
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"format": "grokscope-forecast/2", "features": ["since_mem"], "mean": [0.0]}')
    with pytest.raises(ForecastError, match="corrupt"):
        Monitor(lr=1e-3, weight_decay=1.0, n_classes=P, model=str(wrong))
    with pytest.raises(ForecastError, match="lr > 0"):
        Monitor(lr=0.0, weight_decay=1.0, n_classes=P)


# --- the Hugging Face Trainer callback --------------------------------------------------------------------


def _accuracy(p: Any) -> dict[str, float]:
    return {"accuracy": float((np.argmax(p.predictions, -1) == p.label_ids).mean())}


def test_forecast_callback_in_a_trainer(tmp_path, caplog):
    pytest.importorskip("transformers")
    from transformers import Trainer, TrainingArguments

    from grokscope.forecast.hf import ForecastCallback

    torch.manual_seed(0)
    pairs, y, tr, te = mod_add_split()
    train_ds = [{"input_ids": pairs[i], "labels": y[i]} for i in tr]
    test_ds = [{"input_ids": pairs[i], "labels": y[i]} for i in te]
    cb = ForecastCallback(n_classes=P)
    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=60, eval_strategy="steps", eval_steps=5, logging_steps=5,
        learning_rate=LR, weight_decay=WD, lr_scheduler_type="constant",
        per_device_train_batch_size=len(train_ds), per_device_eval_batch_size=len(test_ds),
        report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=TwoHotMLP(), args=args, train_dataset=train_ds,
                      eval_dataset={"train": train_ds, "test": test_ds}, compute_metrics=_accuracy,
                      callbacks=[cb])
    with caplog.at_level(logging.INFO, logger="grokscope.forecast.hf"):
        trainer.train()
    mon = cb.monitor
    assert mon is not None
    r = mon.recipe
    assert (r.lr, r.weight_decay, r.beta2, r.n_classes) == (LR, WD, 0.999, P)
    steps = [r["step"] for r in mon.rows]
    assert steps == list(range(5, 61, 5))
    assert all(r["train_acc"] <= 1 and r["weight_norm"] > 0 for r in mon.rows)
    assert mon.rows[-1]["train_acc"] >= 0.99, "the tiny MLP should memorise within 60 steps"
    assert any("forecast:" in line and "refused" not in line for _, line in cb.lines)
    assert [s for s, _ in cb.lines] == sorted(s for s, _ in cb.lines)
    assert cb.forecast is not None and cb.forecast.cut_step == 60
    logged = [r.getMessage() for r in caplog.records if r.name == "grokscope.forecast.hf"]
    assert any("forecast:" in m for m in logged) and any("verdict:" in m for m in logged)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("grokscope")]


def test_forecast_callback_settings_and_missing_metrics(tmp_path, caplog):
    pytest.importorskip("transformers")
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from grokscope.forecast.hf import ForecastCallback, monitor_from_args

    with pytest.raises(ForecastError, match="n_classes"):
        ForecastCallback()
    with pytest.raises(ForecastError, match="not both"):
        ForecastCallback(Monitor(lr=1e-3, weight_decay=1.0, n_classes=P), n_classes=P)
    sgd = TrainingArguments(output_dir=str(tmp_path), optim="sgd", learning_rate=0.1, weight_decay=0.5,
                            report_to=[], use_cpu=True)
    mon = monitor_from_args(sgd, TrainerState(max_steps=300), n_classes=P)
    assert (mon.recipe.beta2, mon._tracker.budget, mon.recipe.lr) == (None, 300, 0.1)  # budget from the state
    adam = TrainingArguments(output_dir=str(tmp_path), adam_beta2=0.98, max_steps=50, report_to=[],
                             use_cpu=True)
    assert monitor_from_args(adam, None, n_classes=P, family="any").recipe.beta2 == 0.98

    cb = ForecastCallback(n_classes=P)
    state, control, model = TrainerState(global_step=0, max_steps=50), TrainerControl(), TwoHotMLP()
    cb.on_train_begin(adam, state, control, model=model)
    with caplog.at_level(logging.WARNING, logger="grokscope.forecast.hf"):
        for step in (5, 10):  # compute_metrics forgotten: losses only
            state.global_step = step
            cb.on_evaluate(adam, state, control, metrics={"eval_train_loss": 1.0}, model=model)
            cb.on_evaluate(adam, state, control, metrics={"eval_test_loss": 2.0}, model=model)
    warnings = [r.getMessage() for r in caplog.records if r.name == "grokscope.forecast.hf"]
    assert len(warnings) == 1 and "compute_metrics" in warnings[0]
    assert cb.monitor is not None and cb.monitor.rows == [] and cb.lines == []

    state.global_step = 15  # with accuracy the pair is fed; a repeated evaluation at the same step is skipped
    for _ in range(2):
        for m in ({"eval_test_loss": 2.0, "eval_test_accuracy": 0.1},
                  {"eval_train_loss": 1.0, "eval_train_accuracy": 0.5}):
            cb.on_evaluate(adam, state, control, metrics=m, model=model)
    assert [(r["step"], r["train_acc"], r["test_acc"]) for r in cb.monitor.rows] == [(15, 0.5, 0.1)]


def test_hf_module_without_transformers_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    monkeypatch.delitem(sys.modules, "grokscope.forecast.hf", raising=False)
    with pytest.raises(ForecastError, match=r"pip install 'grokscope\[tl\]'"):
        importlib.import_module("grokscope.forecast.hf")


def test_numpy_and_torch_steps_are_steps():
    import numpy as np
    import torch

    mon = memorised_monitor()
    assert mon.update(good_row(np.int64(110))) is not None
    assert mon.update(good_row(torch.tensor(120))) is not None and mon.rows[-1]["step"] == 120
    assert mon.update(good_row(130.0)) is not None and mon.error is None
