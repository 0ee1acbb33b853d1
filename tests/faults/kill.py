"""Deterministic kill -9 for the fault loops: a child process runs a `grokscope` CLI command with one
fault hook installed and SIGKILLs itself at exactly that point (no polling, no clock races).

A hook is (kind, target, n): the n-th time (1-based) the child reaches `kind` for `target`, it dies.
    row        RunWriter.on_eval after a row with step >= n was appended         (mid-training)
    torn_row   RunWriter.on_eval writes half of the row with step >= n, then dies (a partial JSONL line)
    save       half of the n-th safetensors file named `target` is written to its temporary file
    replace    the n-th os.replace onto a file named `target`: before it (the temporary file is whole)
    replaced   ... right after it
    parquet    half of the n-th metrics.parquet is written to its temporary file
    call       the n-th call of the function `target` ("module:attr"), before it runs
    block      like row, but instead of dying: touch <dir>/started, wait for <dir>/go (concurrency tests)
The child trains on one thread (bit-identity holds for a fixed thread count; see test_run.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import importlib, os, signal, sys, time
import torch
torch.set_num_threads(1)
kind, target, n, cwd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
count = [0]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def hit():
    count[0] += 1
    return count[0] == n

import grokscope.store.files as files
from grokscope.store.rundir import RunWriter
real_on_eval, real_replace, real_save = RunWriter.on_eval, os.replace, files.save_file

if kind in ("row", "torn_row", "block"):
    def on_eval(self, row):
        if kind == "torn_row" and row["step"] >= n and not count[0]:
            count[0] = 1
            line = __import__("json").dumps(row)
            with open(self.path / "metrics.jsonl", "a") as f:
                f.write(line[: len(line) // 2])
            die()
        real_on_eval(self, row)
        if kind == "row" and row["step"] >= n:
            die()
        if kind == "block" and row["step"] >= n and not count[0]:
            count[0] = 1
            open(os.path.join(cwd, "started"), "w").close()
            t0 = time.monotonic()
            while not os.path.exists(os.path.join(cwd, "go")) and time.monotonic() - t0 < 300:
                time.sleep(0.05)
    RunWriter.on_eval = on_eval
elif kind in ("replace", "replaced"):
    def replace(src, dst, *a, **kw):
        mine = str(dst).endswith(target) and hit()
        if mine and kind == "replace":
            die()
        out = real_replace(src, dst, *a, **kw)
        if mine:
            die()
        return out
    os.replace = replace
elif kind == "save":
    def save_file(tensors, tmp, metadata=None):
        real_save(tensors, tmp, metadata=metadata)
        if os.path.basename(tmp).startswith("." + target + ".") and hit():
            data = open(tmp, "rb").read()
            open(tmp, "wb").write(data[: len(data) // 2])
            die()
    files.save_file = save_file
elif kind == "parquet":
    import pyarrow.parquet as pq
    real_write = pq.write_table
    def write_table(table, where, *a, **kw):
        real_write(table, where, *a, **kw)
        if hit():
            data = open(where, "rb").read()
            open(where, "wb").write(data[: len(data) // 2])
            die()
    pq.write_table = write_table
elif kind == "call":
    mod, attr = target.split(":")
    module = importlib.import_module(mod)
    real = getattr(module, attr)
    def call(*a, **kw):
        if hit():
            die()
        return real(*a, **kw)
    setattr(module, attr, call)
else:
    raise SystemExit(f"unknown hook {kind}")

from grokscope.cli import app
sys.argv = ["grokscope", *sys.argv[5:]]
app()
"""


def run_child(args: list[str], kind: str, target: str = "", n: int = 1, cwd: Path | None = None,
              wait: bool = True, timeout: float = 300):
    """Run `grokscope <args>` in a child with one hook; returns the CompletedProcess (or the Popen)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", CHILD, kind, target, str(n), str(cwd or "."), *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def killed(proc) -> bool:
    return proc.returncode == -signal.SIGKILL


def tree_hashes(path: Path) -> dict[str, str]:
    """sha256 of every file under path (relative names) — 'untouched' means equal hashes."""
    import hashlib

    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(path).rglob("*")) if p.is_file()}
