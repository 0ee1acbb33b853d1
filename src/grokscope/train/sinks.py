"""Where the engine reports one model's results: the `Sink` protocol, a null sink, an in-memory
sink and a tee. The run directory (`store.rundir.RunWriter`) is the on-disk sink; experiment
trackers are further sinks behind the same protocol."""

from __future__ import annotations

from typing import Any, Protocol

import torch

Params = dict[str, torch.Tensor]


class Sink(Protocol):
    """Receives one model's results, in step order."""

    def on_eval(self, row: dict[str, Any]) -> None: ...
    def on_checkpoint(self, step: int, params: Params, kind: str) -> None: ...
    def on_state(self, step: int, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None: ...
    def on_finish(self, summary: dict[str, Any]) -> None: ...


class NullSink:
    """Discards everything (benchmarks, throwaway ensembles)."""

    def on_eval(self, row: dict[str, Any]) -> None:
        pass

    def on_checkpoint(self, step: int, params: Params, kind: str) -> None:
        pass

    def on_state(self, step: int, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        pass

    def on_finish(self, summary: dict[str, Any]) -> None:
        pass


class MemorySink:
    """Keeps metrics rows, checkpoints ({(step, kind): params}) and the summary in memory;
    training states only when `keep_states` (they hold the optimizer moments too)."""

    def __init__(self, keep_states: bool = False):
        self.rows: list[dict[str, Any]] = []
        self.checkpoints: dict[tuple[int, str], Params] = {}
        self.states: dict[int, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {}
        self.summary: dict[str, Any] | None = None
        self.keep_states = keep_states

    def on_eval(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def on_checkpoint(self, step: int, params: Params, kind: str) -> None:
        self.checkpoints[(step, kind)] = params

    def on_state(self, step: int, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        if self.keep_states:
            self.states[step] = (tensors, info)

    def on_finish(self, summary: dict[str, Any]) -> None:
        self.summary = summary


class Tee:
    """Forwards every call to each of `sinks`, in order (the run directory first, then trackers)."""

    def __init__(self, *sinks: Sink):
        self.sinks = list(sinks)

    def on_eval(self, row: dict[str, Any]) -> None:
        for s in self.sinks:
            s.on_eval(row)

    def on_checkpoint(self, step: int, params: Params, kind: str) -> None:
        for s in self.sinks:
            s.on_checkpoint(step, params, kind)

    def on_state(self, step: int, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        for s in self.sinks:
            s.on_state(step, tensors, info)

    def on_finish(self, summary: dict[str, Any]) -> None:
        for s in self.sinks:
            s.on_finish(summary)


def tee(*sinks: Sink) -> Sink:
    """One sink from several; a single sink is returned as it is."""
    return sinks[0] if len(sinks) == 1 else Tee(*sinks)
