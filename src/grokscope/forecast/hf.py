"""The grokscope forecast in a Hugging Face `Trainer`: a callback that feeds a `Monitor` at every evaluation.

Evaluate on the training set and on the held-out set (a dict of eval datasets), with a `compute_metrics`
that returns the accuracy:

    import logging
    import numpy as np
    from transformers import Trainer, TrainingArguments
    from grokscope.forecast.hf import ForecastCallback

    def accuracy(p):
        return {"accuracy": float((np.argmax(p.predictions, -1) == p.label_ids).mean())}

    logging.basicConfig(level=logging.INFO)   # the forecast lines go to the "grokscope.forecast.hf" logger
    cb = ForecastCallback(n_classes=97)       # lr, weight decay, beta2 and the budget come from the args
    trainer = Trainer(model=model, args=TrainingArguments(..., eval_strategy="steps", eval_steps=100),
                      train_dataset=train_ds, eval_dataset={"train": train_ds, "test": test_ds},
                      compute_metrics=accuracy, callbacks=[cb])
    trainer.train()
    cb.lines[-1]        # (step, "forecast: groks ≈ step 24,100 (80% interval ...), P(by step ...) = 0.93")
    cb.monitor.verdict()

HF reports the two evaluations separately (metrics eval_train_loss, eval_train_accuracy, then
eval_test_loss, eval_test_accuracy); the callback pairs them by `state.global_step`. The weight norm is
that of `model.parameters()` on this process (a sharded model, FSDP or DeepSpeed ZeRO-3, would need the
full parameters; HF decays no bias or LayerNorm weight, the norm counts them all). Only this module
imports transformers: `pip install 'grokscope[tl]'`.
"""

from __future__ import annotations

import logging
from typing import Any

from grokscope.forecast.features import ForecastError
from grokscope.forecast.monitor import Monitor
from grokscope.forecast.predict import Forecast

try:
    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
except ImportError as e:  # tests/unit/test_forecast_monitor.py hides transformers to check this
    raise ForecastError("grokscope.forecast.hf needs Hugging Face transformers: pip install 'grokscope[tl]' "
                        f"({e})") from e

log = logging.getLogger(__name__)


def monitor_from_args(args: TrainingArguments, state: TrainerState | None = None,
                      **monitor_kwargs: Any) -> Monitor:
    """A Monitor for a Trainer's run: lr, weight decay, beta2 (Adam-family optimizers only) and the step
    budget (max_steps) from its arguments; `monitor_kwargs` (n_classes required) override them."""
    if "n_classes" not in monitor_kwargs:
        raise ForecastError("ForecastCallback needs n_classes (the number of answers) to build its Monitor")
    optim = str(getattr(args.optim, "value", args.optim)).lower()
    budget = args.max_steps if args.max_steps > 0 else (state.max_steps if state is not None else 0)
    derived: dict[str, Any] = {
        "lr": args.learning_rate,
        "weight_decay": args.weight_decay,
        "beta2": args.adam_beta2 if optim.startswith(("adamw", "adam")) else None,
        "budget": int(budget) if budget and budget > 0 else None,
    }
    return Monitor(**{**derived, **monitor_kwargs})


class ForecastCallback(TrainerCallback):
    """Feeds a `Monitor` with the train and test loss/accuracy of each evaluation and logs its forecast line.

    monitor: a ready Monitor, or None to build one at train begin from the TrainingArguments and
    `monitor_kwargs` (n_classes required; family, model, or an override of lr/weight_decay/beta2/budget);
    train_key, test_key: the names of the two datasets in `eval_dataset`; accuracy_key: the key
    compute_metrics returns the accuracy under. `lines` keeps (step, line) for every line shown.
    """

    def __init__(self, monitor: Monitor | None = None, *, train_key: str = "train", test_key: str = "test",
                 accuracy_key: str = "accuracy", **monitor_kwargs: Any):
        if monitor is not None and monitor_kwargs:
            raise ForecastError(f"ForecastCallback takes a Monitor or the keywords to build one, not both "
                                f"(got {', '.join(sorted(monitor_kwargs))})")
        if monitor is None and "n_classes" not in monitor_kwargs:
            raise ForecastError("ForecastCallback needs n_classes (the number of answers) or a Monitor")
        self.monitor = monitor
        self.splits = {"train": train_key, "test": test_key}
        self.accuracy_key = accuracy_key
        self.lines: list[tuple[int, str]] = []
        self._monitor_kwargs = monitor_kwargs
        self._pending: dict[int, dict[str, tuple[float, float]]] = {}  # step -> split -> (loss, accuracy)
        self._warned: set[str] = set()

    @property
    def forecast(self) -> Forecast | None:
        """The monitor's latest forecast (None before memorisation or before training)."""
        return self.monitor.forecast if self.monitor is not None else None

    def _warn_once(self, key: str, msg: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("grokscope ForecastCallback: %s", msg)

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        if self.monitor is None:
            self.monitor = monitor_from_args(args, state, **self._monitor_kwargs)

    def _read(self, metrics: dict[str, Any]) -> tuple[str, float, float] | None:
        """(split, loss, accuracy) of one dataset's evaluation, or None if it is neither of ours."""
        for split, name in self.splits.items():
            loss_key, acc_key = f"eval_{name}_loss", f"eval_{name}_{self.accuracy_key}"
            if loss_key not in metrics:
                continue
            if acc_key not in metrics:
                self._warn_once("accuracy", f"no {acc_key!r} in the evaluation metrics, so no forecast; "
                                f"pass Trainer a compute_metrics returning {{{self.accuracy_key!r}: ...}}")
                return None
            return split, metrics[loss_key], metrics[acc_key]
        return None

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if self.monitor is None or not metrics:
            return
        try:  # the forecast never stops a training run
            self._on_metrics(state, metrics, kwargs.get("model"))
        except Exception as e:  # noqa: BLE001
            self._warn_once(f"error:{type(e).__name__}", f"forecast skipped ({type(e).__name__}: {e})")

    def _on_metrics(self, state: TrainerState, metrics: dict[str, Any], model: Any) -> None:
        assert self.monitor is not None
        got = self._read(metrics)
        if got is None:
            if not any(k.startswith(f"eval_{n}_") for k in metrics for n in self.splits.values()):
                tr, te = self.splits["train"], self.splits["test"]
                self._warn_once("datasets", f"evaluation metrics without eval_{tr}_* or eval_{te}_*: pass "
                                f"eval_dataset={{{tr!r}: train_ds, {te!r}: test_ds}} to Trainer")
            return
        step = int(state.global_step)
        rows = self.monitor.rows
        if rows and step <= int(rows[-1]["step"]):
            return  # an evaluation repeated at a step already fed (e.g. trainer.evaluate() after training)
        split, loss, acc = got
        self._pending = {s: v for s, v in self._pending.items() if s >= step}  # drop an unpaired older half
        pair = self._pending.setdefault(step, {})
        pair[split] = (loss, acc)
        if len(pair) < 2:
            return
        del self._pending[step]
        if model is None:
            self._warn_once("model", "the Trainer passed the callback no model: no weight norm, no forecast")
            return
        self.monitor.update(step=step, train_loss=pair["train"][0], train_acc=pair["train"][1],
                            test_loss=pair["test"][0], test_acc=pair["test"][1],
                            weight_norm=Monitor.norm(model.parameters()))
        line = self.monitor.line
        if line is not None:
            self.lines.append((step, line))
            if state.is_world_process_zero:
                log.info("step %s: %s", f"{step:,}", line)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     **kwargs: Any) -> None:
        if self.monitor is not None and self.monitor.rows and state.is_world_process_zero:
            log.info("%s", self.monitor.verdict().line())
