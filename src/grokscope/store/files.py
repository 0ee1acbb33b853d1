"""Atomic file writes: a reader (or a kill -9) never sees half a file."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from grokscope.errors import RunDirError, WriteRefused


def _atomic(path: Path, write) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; run files are meant to be shared
        os.replace(tmp, path)
    except OSError as e:  # a full disk, a read-only directory: the old file (if any) is still whole
        raise write_error(path, e) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def write_error(path: Path, e: OSError) -> WriteRefused:
    """One line for a write that the file system refused (ENOSPC, EACCES, EROFS, ...)."""
    reason = e.strerror or str(e)
    return WriteRefused(path, reason, f"cannot write {path}: {reason}; free space or fix permissions, then run the "
                        "same command again (an interrupted run continues with --resume)")


def append_line(path: Path, line: str) -> None:
    """Append one line (a torn last line from a kill is skipped by its readers)."""
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
    except OSError as e:
        raise write_error(path, e) from None


def read_json(path: Path, fix: str) -> Any:
    """A JSON file we wrote; a corrupt or truncated one is a RunDirError naming it and `fix`."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"{path} is corrupt ({getattr(e, 'msg', type(e).__name__)}); {fix}") from None


def write_json(path: Path, data: Any) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")

    _atomic(path, write)


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda tmp: Path(tmp).write_text(text))


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows)
    _atomic(path, lambda tmp: pq.write_table(table, tmp))


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    _atomic(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def jsonable(x: Any) -> Any:
    """numpy scalars/arrays -> Python values, non-finite floats -> None, keys -> str, recursively.

    The result is strict JSON (no NaN/Infinity tokens).
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
